"""Compiled inference of the blocks (opt-in, MNE_NEURORVQ_COMPILE)."""

import warnings

import pytest
import torch

from mne_neurorvq.nn import (
    FoundationConfig,
    NeuroRVQFoundation,
    NeuroRVQTokenizerModel,
    TokenizerConfig,
)
from mne_neurorvq.nn._compile import COMPILE_ENV, compile_backend, compiled_blocks

from .._near_ties import assert_tokens_equal_outside_near_ties, token_gaps

CHANS = torch.tensor([36, 9, 10, 55])


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """Inductor's cache and the measured settings in a fresh folder."""
    monkeypatch.setenv("MNE_NEURORVQ_CACHE", str(tmp_path))
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)
    monkeypatch.setenv("MNE_NEURORVQ_CPU_TUNING", "sequences=4,samples=2")
    return tmp_path


def _tokenizer():
    model = NeuroRVQTokenizerModel(TokenizerConfig.tiny())
    model.init_weights(torch.Generator().manual_seed(0))
    return model.eval()


def _input(batch=3):
    return 20 * torch.randn(batch, 4, 400, generator=torch.Generator().manual_seed(1))


def _eager_and_compiled(model, x, monkeypatch, backend):
    monkeypatch.setenv(COMPILE_ENV, "0")
    with torch.inference_mode():
        eager = (model.tokenize(x, CHANS), model.encoder_features(x, CHANS))
    monkeypatch.setenv(COMPILE_ENV, backend)
    with torch.inference_mode():
        compiled = (model.tokenize(x, CHANS), model.encoder_features(x, CHANS))
    return eager, compiled


def test_the_switch(monkeypatch):
    model = _tokenizer()
    for value, expected in [("", None), ("off", None), ("1", "inductor")]:
        monkeypatch.setenv(COMPILE_ENV, value)
        assert compile_backend() == expected
    monkeypatch.setenv(COMPILE_ENV, "aot_eager")
    assert compile_backend() == "aot_eager"
    # only inference is compiled
    assert compiled_blocks(model.encoder, model.encoder.blocks) is None
    with torch.no_grad():
        assert compiled_blocks(model.encoder, model.encoder.blocks) is not None
        assert compiled_blocks(model.train().encoder, model.encoder.blocks) is None


@pytest.mark.slow
def test_compiled_blocks_agree_with_eager(cache, monkeypatch):
    """Inductor: tokens by the exactness rule, features to float rounding.

    Chunks of 4 sequences: 12 sequences give one static shape (one graph).
    """
    model, x = _tokenizer(), _input()
    eager, compiled = _eager_and_compiled(model, x, monkeypatch, "inductor")
    assert_tokens_equal_outside_near_ties(
        compiled[0], eager[0], token_gaps(model, x, CHANS)
    )
    torch.testing.assert_close(compiled[1], eager[1], atol=1e-5, rtol=1e-5)
    assert any((cache / "inductor").iterdir())  # the persistent cache


@pytest.mark.slow
def test_a_failing_compiler_falls_back_to_eager_with_one_warning(cache, monkeypatch):
    """Inductor without a working C++ compiler: one warning, eager results."""
    import torch._inductor.config as inductor_config

    monkeypatch.setattr(inductor_config.cpp, "cxx", ("/nonexistent/c++",))
    model, x = NeuroRVQFoundation(config=FoundationConfig.tiny()), _input()
    model.init_weights(torch.Generator().manual_seed(0))
    model.eval()
    monkeypatch.setenv(COMPILE_ENV, "0")
    with torch.inference_mode():
        expected = model.embed(x, CHANS)
    monkeypatch.setenv(COMPILE_ENV, "inductor")
    with torch.inference_mode():
        with pytest.warns(RuntimeWarning, match="No working C.. compiler"):
            first = model.embed(x, CHANS)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no second warning
            second = model.embed(x, CHANS)
    torch.testing.assert_close(first, expected)
    torch.testing.assert_close(second, expected)
