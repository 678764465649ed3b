import json
import time

import pytest
import torch

from mne_neurorvq.nn import (
    NeuroRVQTokenizerModel,
    ResidualVQ,
    TokenizerConfig,
    _tuning,
)
from mne_neurorvq.nn._chunks import inference_chunks
from mne_neurorvq.nn._tuning import (
    CANDIDATES,
    ENV_VAR,
    TUNING_FILE,
    chosen_settings,
    cpu_description,
    forget_decisions,
    machine_key,
    native_bf16,
    parse_overrides,
    tuned,
)

from .._near_ties import assert_tokens_equal_outside_near_ties, token_gaps


@pytest.fixture
def tuning_cache(tmp_path, monkeypatch):
    """A fresh file of measured settings and no decisions in memory."""
    monkeypatch.setenv("MNE_NEURORVQ_CACHE", str(tmp_path))
    monkeypatch.delenv(ENV_VAR, raising=False)
    forget_decisions()
    yield tmp_path / TUNING_FILE
    forget_decisions()


def _never(candidate):
    raise AssertionError(f"measured {candidate} although the setting was known")


def _fastest_is(winner, calls):
    """A timed callable whose candidate ``winner`` is the only fast one."""

    def run(candidate):
        calls.append(candidate)
        if candidate != winner:
            time.sleep(0.02)

    return run


def test_the_fastest_candidate_is_kept_on_disk_and_reused(tuning_cache):
    calls = []
    value = tuned("sequences", "a shape", _fastest_is(8, calls))
    assert value == 8
    # every candidate timed once, then only the contenders (here the winner)
    assert calls == [*CANDIDATES["sequences"], 8]
    stored = json.loads(tuning_cache.read_text())["machines"][machine_key()]
    record = stored["sequences | a shape"]
    assert record["value"] == 8
    assert sorted(map(int, record["seconds"])) == sorted(CANDIDATES["sequences"])
    # the same process: no new measurement; a new process reads the file
    assert tuned("sequences", "a shape", _never) == 8
    forget_decisions()
    assert tuned("sequences", "a shape", _never) == 8
    assert "8 (cache" in chosen_settings()["sequences | a shape"]
    # another shape is measured on its own
    assert tuned("sequences", "another shape", _fastest_is(32, [])) == 32
    assert len(json.loads(tuning_cache.read_text())["machines"][machine_key()]) == 2


def test_the_environment_overrides_without_measuring(tuning_cache, monkeypatch):
    tuned("samples", "a shape", _fastest_is(2, []))
    monkeypatch.setenv(ENV_VAR, "samples=3, search_block=1000")
    assert tuned("samples", "a shape", _never) == 3
    assert tuned("search_block", "a shape", _never) == 1000
    assert chosen_settings()["samples | env"] == "3"
    monkeypatch.delenv(ENV_VAR)
    assert tuned("samples", "a shape", _never) == 2
    with pytest.raises(ValueError, match=f"{ENV_VAR} expects"):
        parse_overrides("threads=2")
    with pytest.raises(ValueError, match="got 'samples=0'"):
        parse_overrides("samples=0")


def test_a_damaged_or_foreign_file_is_measured_again(tuning_cache):
    tuning_cache.write_text("{not json")
    assert tuned("samples", "s", _fastest_is(4, [])) == 4
    forget_decisions()
    machines = json.loads(tuning_cache.read_text())["machines"]
    machines[machine_key()]["samples | s"]["value"] = 3  # not a candidate
    tuning_cache.write_text(json.dumps({"format": 1, "machines": machines}))
    assert tuned("samples", "s", _fastest_is(1, [])) == 1


def test_measurements_are_kept_per_machine_and_thread_count(tuning_cache):
    assert machine_key(1) != machine_key(2)
    assert torch.__version__ in machine_key()
    machines = {machine_key(64): {"samples | s": {"value": 8}}}
    tuning_cache.write_text(json.dumps({"format": 1, "machines": machines}))
    calls = []
    assert tuned("samples", "s", _fastest_is(2, calls)) == 2  # not 64 threads'
    assert calls


def test_an_unwritable_cache_still_measures(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("MNE_NEURORVQ_CACHE", str(blocker / "below"))
    monkeypatch.delenv(ENV_VAR, raising=False)
    forget_decisions()
    try:
        assert tuned("samples", "s", _fastest_is(2, [])) == 2
        assert tuned("samples", "s", _never) == 2  # kept in memory
    finally:
        forget_decisions()


def test_chunks_only_in_cpu_inference_of_large_batches(tuning_cache):
    x = torch.zeros(5, 3)
    # gradients on, or no more rows than the smallest candidate: one piece
    assert [len(p) for p in inference_chunks(x, "sequences", "s", _never)] == [5]
    with torch.no_grad():
        small = inference_chunks(x[:2], "sequences", "s", _never)
        assert [len(p) for p in small] == [2]
        parts = inference_chunks(x, "sequences", "s", _fastest_is(2, []))
    assert [len(p) for p in parts] == [2, 2, 1]


def test_a_model_measures_its_settings_once(tuning_cache):
    model = NeuroRVQTokenizerModel(TokenizerConfig.tiny())
    model.init_weights(torch.Generator().manual_seed(0))
    model.eval()
    x = torch.randn(3, 4, 400, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        tokens = model.tokenize(x, torch.tensor([36, 9, 10, 55]))
    # the tiny codebooks' search fits in the smallest block: not measured
    names = {key.split(" | ")[0] for key in chosen_settings()}
    assert names == {"sequences", "samples"}
    stored = json.loads(tuning_cache.read_text())["machines"][machine_key()]
    assert len(stored) == 2
    forget_decisions()
    with torch.inference_mode():
        again = model.tokenize(x, torch.tensor([36, 9, 10, 55]))
    assert torch.equal(again, tokens)
    assert all("cache" in value for value in chosen_settings().values())


def test_the_search_block_is_measured_for_large_searches(tuning_cache):
    codebook = ResidualVQ(n_code=4096, code_dim=8, n_levels=1).codebooks()[0]
    codes = torch.randn(4096, 8, generator=torch.Generator().manual_seed(0))
    codebook.weight.data.copy_(torch.nn.functional.normalize(codes, dim=-1))
    z = torch.nn.functional.normalize(torch.randn(200, 8), dim=-1)
    expected = codebook.nearest(z, block_elements=2**30)  # one block
    assert not chosen_settings()
    assert torch.equal(codebook.nearest(z), expected)  # measured, then searched
    (key,) = chosen_settings()
    assert key == "search_block | 4096 codes x 8"
    assert torch.equal(codebook.nearest(z[:10]), expected[:10])  # one block


def test_native_bf16_follows_the_cpu_flags_and_onednn(monkeypatch):
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    flags = _tuning._cpu_model_and_flags()[1]
    expected = bool(flags & set(_tuning.NATIVE_BF16_FLAGS))
    assert native_bf16("cpu") is expected
    assert cpu_description()["native_bf16"] is expected
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")  # another CPU simulated
    assert native_bf16("cpu") is False
    assert native_bf16("meta") is False


def test_cpu_description_names_model_isa_and_settings(tuning_cache, monkeypatch):
    monkeypatch.setenv(ENV_VAR, "sequences=4")
    description = cpu_description()
    assert set(description["isa"]) == set(_tuning.ISA_FLAGS)
    assert description["tuning"] == {"sequences | env": "4"}
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
