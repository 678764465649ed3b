import pytest
import torch

from mne_neurorvq.nn import NeuroRVQTokenizerModel, TokenizerConfig, _tuning
from mne_neurorvq.nn._tuning import (
    ENV_VAR,
    apply_overrides,
    cache_share,
    cpu_description,
    cpu_tuning,
    last_level_cache,
    settings_for_cache,
)

from .._near_ties import assert_tokens_equal_outside_near_ties, token_gaps

MIB = 2**20


@pytest.mark.parametrize(
    ("cache", "sequences", "samples", "block"),
    [
        (32 * MIB, 16, 8, 2**22),  # the 32 MiB L3 of a 2-core Zen 4 VM
        (8 * MIB, 4, 2, 2**20),
        (MIB, 1, 1, 2**17),
        (0, 1, 1, 2**16),  # floors
        (2**34, 64, 64, 2**24),  # caps
    ],
)
def test_settings_follow_the_cache(cache, sequences, samples, block):
    tuning = settings_for_cache(cache)
    assert (tuning.sequences, tuning.samples, tuning.search_block) == (
        sequences,
        samples,
        block,
    )
    assert tuning.cache_bytes == cache and tuning.source == "cache"


def _write_cache(root, index, level, kind, size, shared):
    folder = root / f"index{index}"
    folder.mkdir(parents=True)
    for name, value in (
        ("level", level),
        ("type", kind),
        ("size", size),
        ("shared_cpu_list", shared),
    ):
        (folder / name).write_text(f"{value}\n")


def test_last_level_cache_is_read_from_the_os_layout(tmp_path):
    _write_cache(tmp_path, 0, 1, "Data", "48K", "0")
    _write_cache(tmp_path, 1, 1, "Instruction", "32K", "0")
    _write_cache(tmp_path, 2, 2, "Unified", "2048K", "0")
    _write_cache(tmp_path, 3, 3, "Unified", "105M", "0-27,56-83")
    assert last_level_cache(tmp_path) == (105 * MIB, 56)
    # 2 threads get 2/56 of it
    assert cache_share(105 * MIB, 56, 2) == 105 * MIB * 2 // 56
    assert cache_share(32 * MIB, 2, 8) == 32 * MIB  # never more than the cache
    assert last_level_cache(tmp_path / "missing") is None


def test_cpu_tuning_is_computed_once_and_env_overrides(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    derived = cpu_tuning()
    assert cpu_tuning() is derived
    monkeypatch.setenv(ENV_VAR, "sequences=3, search_block=1000")
    overridden = cpu_tuning()
    assert (overridden.sequences, overridden.search_block) == (3, 1000)
    assert overridden.samples == derived.samples
    assert overridden.source == derived.source + "+env"
    assert cpu_tuning() is overridden
    with pytest.raises(ValueError, match=f"{ENV_VAR} expects"):
        apply_overrides(derived, "threads=2")
    with pytest.raises(ValueError, match="got 'samples=0'"):
        apply_overrides(derived, "samples=0")


def test_cpu_description_names_model_isa_and_settings():
    description = cpu_description()
    assert set(description["isa"]) == set(_tuning.ISA_FLAGS)
    assert description["tuning"]["sequences"] == cpu_tuning().sequences
    assert description["aten_capability"] == torch.backends.cpu.get_cpu_capability()


def test_every_setting_gives_the_same_tokens_and_features(monkeypatch):
    """Chunks and blocks change speed only (tokens: outside near ties)."""
    model = NeuroRVQTokenizerModel(TokenizerConfig.tiny())
    model.init_weights(torch.Generator().manual_seed(0))
    model.eval()
    x = 20 * torch.randn(5, 4, 400, generator=torch.Generator().manual_seed(1))
    chans = torch.tensor([36, 9, 10, 55])
    results = []
    for setting in ("", "sequences=1,samples=1,search_block=64", "sequences=7"):
        monkeypatch.setenv(ENV_VAR, setting)
        with torch.inference_mode():
            results.append((model.tokenize(x, chans), model.encoder_features(x, chans)))
    gaps = token_gaps(model, x, chans)
    tokens, features = results[0]
    for other_tokens, other_features in results[1:]:
        assert_tokens_equal_outside_near_ties(other_tokens, tokens, gaps)
        torch.testing.assert_close(other_features, features, atol=1e-5, rtol=1e-5)
