"""safetensors in and out: pretrained folders, braindecode's key layout."""

from __future__ import annotations

import json

import pytest
import torch

from mne_neurorvq.nn import (
    FoundationConfig,
    NeuroRVQFoundation,
    NeuroRVQTokenizerModel,
    TokenizerConfig,
)
from mne_neurorvq.nn.checkpoints import (
    CheckpointError,
    load_foundation,
    load_tokenizer,
    read_state_dict,
    save_checkpoint,
)
from mne_neurorvq.nn.hub import (
    from_braindecode_layout,
    from_pretrained,
    to_braindecode_layout,
    write_safetensors,
)


def _tokenizer(**changes):
    model = NeuroRVQTokenizerModel(TokenizerConfig.tiny(**changes))
    model.init_weights(torch.Generator().manual_seed(0))
    return model.eval()


def _foundation(**kwargs):
    model = NeuroRVQFoundation(config=FoundationConfig.tiny(), **kwargs)
    model.init_weights(torch.Generator().manual_seed(0))
    return model.eval()


def test_save_and_load_pretrained_folders(tmp_path):
    tokenizer = _tokenizer(n_levels=3)  # not inferable from an EEG preset
    folder = tokenizer.save_pretrained(tmp_path / "tok")
    assert sorted(p.name for p in folder.iterdir()) == [
        "config.json",
        "model.safetensors",
    ]
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "NeuroRVQTokenizerModel"
    assert config["modality"] == "eeg" and config["mne_neurorvq_version"]
    for loaded in (
        NeuroRVQTokenizerModel.from_pretrained(folder),
        from_pretrained(folder),
        load_tokenizer(folder),
        load_tokenizer(folder / "model.safetensors"),
    ):
        assert loaded.config == tokenizer.config
        for key, value in tokenizer.state_dict().items():
            assert torch.equal(loaded.state_dict()[key], value), key
    # a lone .safetensors file keeps its config in its metadata
    lone = save_checkpoint(tokenizer, tmp_path / "alone" / "tok.safetensors")
    assert load_tokenizer(lone).config == tokenizer.config
    with pytest.raises(CheckpointError, match="does not describe a FoundationConfig"):
        load_foundation(folder)
    with pytest.raises(FileNotFoundError, match="No model.safetensors"):
        load_tokenizer(tmp_path)


def test_braindecode_layout_round_trip(tmp_path):
    model = _foundation(pretraining=True)
    state = model.state_dict()
    theirs = to_braindecode_layout(state)
    assert "blocks.0.mlp.0.weight" in theirs and "blocks.0.mlp.fc1.weight" not in theirs
    pretraining = ("mask_token", "norm_pre", "head_pre_")
    assert not any(k.startswith(pretraining) for k in theirs)
    back = from_braindecode_layout(theirs)
    assert set(back) == {k for k in state if k in back} and len(back) < len(state)
    path = write_safetensors(theirs, tmp_path / "bd.safetensors")
    loaded = load_foundation(path)
    x, chans = torch.randn(2, 3, 400), torch.tensor([0, 5, 9])
    with torch.inference_mode():
        torch.testing.assert_close(loaded.embed(x, chans), model.embed(x, chans))
    # strict, with the same key errors
    broken = dict(theirs)
    broken["blocks.0.mlp.3.weight"] = broken.pop("blocks.0.mlp.2.weight")
    write_safetensors(broken, tmp_path / "broken.safetensors")
    with pytest.raises(CheckpointError, match=r"missing key\(s\): blocks.0.mlp.fc2"):
        load_foundation(tmp_path / "broken.safetensors")


def test_kernels_must_be_the_modalitys(tmp_path):
    state = _tokenizer().state_dict()
    key = "encoder.patch_embed.conv1_1.weight"
    state[key] = torch.zeros(*state[key].shape[:-1], 41)  # PPG's first kernel
    with pytest.raises(CheckpointError, match="conv kernels .* are not EEG's"):
        load_tokenizer(state)


def test_published_parity_foundation_as_braindecode_safetensors(parity_path, tmp_path):
    """The acceptance item: same embeddings from the .pt and braindecode's file."""
    pt = parity_path / "foundation_model_state_dict.pt"
    state = read_state_dict(pt)
    path = write_safetensors(to_braindecode_layout(state), tmp_path / "m.safetensors")
    x, chans = torch.randn(2, 4, 800), torch.tensor([0, 7, 20, 50])
    with torch.inference_mode():
        expected = load_foundation(pt).embed(x, chans)
        got = load_foundation(path).embed(x, chans)
    torch.testing.assert_close(got, expected, rtol=0, atol=0)
