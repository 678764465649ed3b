import pickle

import pytest
import torch
from mne.utils import use_log_level

from mne_neurorvq.nn import (
    FoundationConfig,
    NeuroRVQFoundation,
    NeuroRVQTokenizerModel,
    TokenizerConfig,
)
from mne_neurorvq.nn.checkpoints import (
    CheckpointError,
    infer_foundation_config,
    infer_tokenizer_config,
    load_foundation,
    load_foundation_state_dict,
    load_tokenizer,
    published_state_dict,
    read_state_dict,
    save_checkpoint,
)
from mne_neurorvq.parity import configs_from_reference


def _from_manifest(entries):
    return {e["key"]: torch.zeros(e["shape"]) for e in entries}


def test_published_layout_loads_strictly_and_saves_back_identically(manifest, tmp_path):
    """State dicts built from the published files' manifest: default config, strict."""
    for part, loader, config in (
        ("tokenizer", load_tokenizer, TokenizerConfig()),
        ("foundation_model", load_foundation, FoundationConfig()),
    ):
        entries = manifest[part]["keys"]
        state = _from_manifest(entries)
        kwargs = {"pretraining": True} if part == "foundation_model" else {}
        model = loader(state, **kwargs)
        assert model.config == config  # inferred from the shapes alone
        path = save_checkpoint(model, tmp_path / f"{part}.pt")
        saved = torch.load(path, weights_only=True)
        assert list(saved) == [e["key"] for e in entries]  # same keys, same order
        assert all(list(saved[e["key"]].shape) == e["shape"] for e in entries)
        del model, state, saved


def test_round_trip_is_bit_identical(parity_path, tmp_path):
    for name, loader, kwargs in (
        ("tokenizer_state_dict.pt", load_tokenizer, {}),
        ("foundation_model_state_dict.pt", load_foundation, {"pretraining": True}),
    ):
        original = torch.load(parity_path / name, weights_only=True)
        model = loader(parity_path / name, **kwargs)
        saved = torch.load(save_checkpoint(model, tmp_path / name), weights_only=True)
        assert list(saved) == list(original)
        assert all(torch.equal(saved[k], original[k]) for k in original)


def test_config_is_inferred_from_shapes(parity_path):
    import json

    reference = json.loads((parity_path / "config.json").read_text())
    tok_expected, fm_expected = configs_from_reference(reference)
    tok_state = read_state_dict(parity_path / "tokenizer_state_dict.pt")
    fm_state = read_state_dict(parity_path / "foundation_model_state_dict.pt")
    assert infer_tokenizer_config(tok_state) == tok_expected
    assert infer_foundation_config(fm_state) == fm_expected


@pytest.fixture(scope="module")
def tiny_tokenizer_state():
    model = NeuroRVQTokenizerModel(TokenizerConfig.tiny())
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_extra_key_is_refused(tiny_tokenizer_state):
    state = dict(tiny_tokenizer_state, **{"encoder.extra_bias": torch.zeros(3)})
    with pytest.raises(
        CheckpointError, match=r"unexpected key\(s\): encoder.extra_bias"
    ):
        load_tokenizer(state)


def test_missing_key_is_refused(tiny_tokenizer_state):
    state = dict(tiny_tokenizer_state)
    del state["decoder.fc_norm_2.bias"]
    with pytest.raises(
        CheckpointError, match=r"missing key\(s\): decoder.fc_norm_2.bias"
    ):
        load_tokenizer(state)


def test_wrong_shape_is_refused(tiny_tokenizer_state):
    state = dict(tiny_tokenizer_state)
    state["encoder.blocks.0.attn.q_bias"] = torch.zeros(7)
    with pytest.raises(
        CheckpointError, match=r"encoder.blocks.0.attn.q_bias: checkpoint \(7,\)"
    ):
        load_tokenizer(state, config=TokenizerConfig.tiny())


class _NotATensor:
    pass


def test_pickled_objects_are_refused(tiny_tokenizer_state, tmp_path):
    path = tmp_path / "evil.pt"
    with open(path, "wb") as fid:
        pickle.dump({"encoder.cls_token": _NotATensor()}, fid, protocol=2)
    with pytest.raises(CheckpointError, match="weights_only=True"):
        read_state_dict(path)
    torch.save(dict(tiny_tokenizer_state, note="hello"), tmp_path / "note.pt")
    with pytest.raises(CheckpointError, match=r"'note' \(str\)"):
        read_state_dict(tmp_path / "note.pt")
    with pytest.raises(FileNotFoundError, match="No checkpoint file"):
        read_state_dict(tmp_path / "absent.pt")


def test_pretraining_keys_are_recognised(parity_path, capsys):
    path = parity_path / "foundation_model_state_dict.pt"
    with use_log_level("info"):
        state = load_foundation_state_dict(path, pretraining=False)
    assert not any(k.startswith(("head_pre_", "norm_pre", "mask_token")) for k in state)
    assert "Dropping 67 pre-training tensors" in capsys.readouterr().out
    encoder = load_foundation(path)
    assert not encoder.pretraining and not hasattr(encoder, "head_pre_1")
    # an encoder-only file cannot be loaded for pre-training
    with pytest.raises(CheckpointError, match="missing key.*mask_token"):
        load_foundation(state, config=encoder.config, pretraining=True)


def test_fine_tuned_head_round_trips(tmp_path):
    model = NeuroRVQFoundation(n_outputs=3, config=FoundationConfig.tiny())
    state = model.state_dict()
    assert "head.weight" not in published_state_dict(model)
    loaded = load_foundation(state, n_outputs=3)
    assert torch.equal(loaded.head.weight, model.head.weight)


def _train_steps(model, steps=2):
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    x = 20 * torch.randn(2, 4, 400, generator=torch.Generator().manual_seed(0))
    for _ in range(steps):
        loss = model(x, torch.tensor([36, 9, 10, 55])).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def test_file_tensors_become_parameters_and_the_file_never_changes(tmp_path):
    model = NeuroRVQTokenizerModel(TokenizerConfig.tiny())
    model.init_weights(torch.Generator().manual_seed(0))
    path = save_checkpoint(model, tmp_path / "tokenizer.pt")
    on_disk = path.read_bytes()
    loaded = load_tokenizer(path)
    assert not any(t.is_meta for t in loaded.state_dict().values())
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    codes = loaded.quantize_1.layers[0].embedding.weight.clone()
    _train_steps(loaded)  # EMA and optimiser write into the loaded tensors
    assert not torch.equal(loaded.quantize_1.layers[0].embedding.weight, codes)
    assert path.read_bytes() == on_disk  # copy-on-write, never written back
    reloaded = load_tokenizer(path)
    assert torch.equal(reloaded.quantize_1.layers[0].embedding.weight, codes)


def test_a_callers_state_dict_is_copied_not_aliased():
    model = NeuroRVQTokenizerModel(TokenizerConfig.tiny())
    model.init_weights(torch.Generator().manual_seed(0))
    state = model.state_dict()
    before = {k: v.clone() for k, v in state.items()}
    _train_steps(load_tokenizer(state))
    assert all(torch.equal(state[k], before[k]) for k in state)


def test_legacy_format_files_are_read_without_memory_mapping(tmp_path):
    model = NeuroRVQTokenizerModel(TokenizerConfig.tiny())
    model.init_weights(torch.Generator().manual_seed(0))
    path = tmp_path / "legacy.pt"
    torch.save(model.state_dict(), path, _use_new_zipfile_serialization=False)
    with pytest.raises(RuntimeError, match="mmap"):
        torch.load(path, weights_only=True, mmap=True)
    loaded = load_tokenizer(path)
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


#: The multimodal README: pos_embed / time_embed shapes and full-config sizes
#: (millions of state-dict elements, parameters).
_FULL = {
    "ecg": ((16, 40), (600, 40), 68.05, 67.79),
    "ppg": ((2, 80), (12, 80), 69.01, 68.75),
    "emg": ((17, 200), (256, 200), 143.59, 143.06),
}


def _meta_state(config):
    with torch.device("meta"):
        model = NeuroRVQTokenizerModel(config)
    n_params = sum(p.numel() for p in model.parameters())  # codebooks too
    return model.state_dict(), n_params


@pytest.mark.parametrize("modality", sorted(_FULL))
def test_full_published_configs_load_strictly_and_round_trip(modality):
    """Shapes of the full ECG/PPG/EMG tokenizers, without allocating them."""
    from mne_neurorvq.nn.checkpoints import load_tokenizer_state_dict

    pos, time, n_elements, n_params = _FULL[modality]
    config = TokenizerConfig.published(modality)
    state, n_model_params = _meta_state(config)
    assert tuple(state["encoder.pos_embed"].shape) == pos
    assert tuple(state["decoder.time_embed"].shape) == time
    assert round(sum(t.numel() for t in state.values()) / 1e6, 2) == n_elements
    assert round(n_model_params / 1e6, 2) == n_params
    n_levels = config.n_levels
    assert f"quantize_4.layers.{n_levels - 1}.embedding.weight" in state
    assert infer_tokenizer_config(state) == config
    assert infer_tokenizer_config(state, modality) == config
    assert load_tokenizer_state_dict(state, modality=modality).keys() == state.keys()
    dropped = {k: v for k, v in state.items() if "quantize_4.layers.3." not in k}
    with pytest.raises(CheckpointError, match="missing key.*quantize_4.layers"):
        load_tokenizer_state_dict(dropped, config)


@pytest.mark.parametrize("modality", ["ecg", "ppg", "emg"])
def test_fixture_checkpoints_load_and_save_back_identically(
    parity_multimodal_path, modality, tmp_path
):
    source = parity_multimodal_path / modality / "tokenizer_state_dict.pt"
    model = load_tokenizer(source, modality=modality)
    expected = torch.load(source, weights_only=True)
    assert model.config.modality == modality
    assert model.config.n_levels == (16 if modality == "emg" else 8)
    path = save_checkpoint(model, tmp_path / "back.pt")
    back = torch.load(path, weights_only=True)
    assert back.keys() == expected.keys()
    assert all(torch.equal(back[k], expected[k]) for k in expected)


@pytest.mark.parametrize(
    ("have", "want"), [("eeg", "ecg"), ("ecg", "eeg"), ("emg", "ppg"), ("ppg", "emg")]
)
def test_a_checkpoint_of_another_modality_is_refused(have, want):
    state = NeuroRVQTokenizerModel(TokenizerConfig.tiny(modality=have)).state_dict()
    pattern = (
        f"model for {have.upper()} .*pos_embed .* but modality='{want}' needs "
        f"{want.upper()} "
    )
    with pytest.raises(CheckpointError, match=pattern):
        load_tokenizer(state, modality=want)
    assert load_tokenizer(state).config.modality == have


def test_a_vocabulary_of_no_modality_is_refused(tiny_tokenizer_state):
    state = dict(tiny_tokenizer_state)
    state["encoder.pos_embed"] = torch.zeros(50, 200)
    with pytest.raises(CheckpointError, match="Cannot infer the modality.*50 rows"):
        infer_tokenizer_config(state)
