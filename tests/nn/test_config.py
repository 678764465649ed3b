import pytest

from mne_neurorvq.nn import FoundationConfig, TokenizerConfig


def test_published_defaults_match_spec():
    config = TokenizerConfig.published()
    assert (config.encoder_depth, config.decoder_depth) == (12, 3)
    assert (config.n_code, config.code_dim, config.n_levels) == (8192, 128, 8)
    assert config.embed_dim == 200 and config.sfreq == 200.0
    assert config.n_tokens_per_patch == 32
    fm = FoundationConfig.published()
    assert (fm.depth, fm.init_values, fm.embedding_dim) == (12, 1e-5, 800)


def test_tiny_configs_are_consistent():
    tok = TokenizerConfig.tiny()
    fm = FoundationConfig.for_tokenizer(tok, depth=1)
    assert fm.vocab_size == tok.n_code and fm.n_levels == tok.n_levels
    assert FoundationConfig.tiny().vocab_size == tok.n_code


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"embed_dim": 128}, "embed_dim must equal"),
        ({"patch_size": 100}, "multiple of 8"),
        ({"num_heads": 7}, "divisible by num_heads"),
        ({"n_scales": 5}, "n_scales must be"),
    ],
)
def test_invalid_config_is_refused(changes, match):
    with pytest.raises(ValueError, match=match):
        TokenizerConfig(**changes)


def test_dict_round_trip_and_unknown_keys():
    config = TokenizerConfig.tiny()
    assert TokenizerConfig.from_dict(config.to_dict()) == config
    with pytest.raises(TypeError, match="depht"):
        TokenizerConfig.from_dict({"depht": 3})
    assert config.replace(n_code=32).n_code == 32


#: The multimodal fixture README's table (rate, P, n_patches, levels, kernels,
#: paddings, vocabulary size).
_README_TABLE = {
    "ecg": (200.0, 40, 600, 8, (21, 15, 9, 5), (10, 7, 4, 2), (9, 7, 5, 3), 15),
    "ppg": (100.0, 80, 12, 8, (41, 31, 17, 9), (20, 15, 8, 4), (17, 13, 9, 5), 1),
    "emg": (1000.0, 200, 256, 16, (51, 17, 8, 5), (25, 8, 4, 2), (25, 9, 4, 3), 16),
    "eeg": (200.0, 200, 256, 8, (21, 15, 9, 5), (10, 7, 4, 2), (9, 7, 5, 3), 104),
}


@pytest.mark.parametrize("modality", sorted(_README_TABLE))
def test_modality_presets_follow_the_fixture_readme(modality):
    from mne_neurorvq.channels import MODALITY_VOCABULARIES
    from mne_neurorvq.nn.config import MODALITIES

    sfreq, patch, n_patches, levels, k1, pad1, k2, vocab = _README_TABLE[modality]
    config = TokenizerConfig.published(modality)
    assert (config.sfreq, config.patch_size, config.n_patches) == (
        sfreq,
        patch,
        n_patches,
    )
    assert (config.embed_dim, config.n_levels, config.n_electrodes) == (
        patch,
        levels,
        vocab,
    )
    assert (config.stage1_kernels, config.stage2_kernels) == (k1, k2)
    assert MODALITIES[modality].stage1_paddings == pad1
    assert len(MODALITY_VOCABULARIES[modality]) == vocab
    assert config.head_dim == patch // 10
    tiny = TokenizerConfig.tiny(modality=modality)
    assert (tiny.modality, tiny.patch_size, tiny.n_levels) == (modality, patch, 2)
    assert FoundationConfig.for_tokenizer(tiny, depth=1).modality == modality


def test_modality_fields_are_validated_and_round_trip():
    with pytest.raises(ValueError, match="n_electrodes must be 15 .*for_modality"):
        TokenizerConfig(modality="ecg")
    with pytest.raises(ValueError, match="modality must be one of"):
        TokenizerConfig.for_modality("eog")
    with pytest.raises(ValueError, match="stage1_kernels must give"):
        TokenizerConfig(stage1_kernels=(5, 3))
    config = TokenizerConfig.tiny(modality="emg", n_scales=2)
    assert config.stage1_kernels == (51, 17)
    values = config.to_dict()
    values["stage2_kernels"] = list(values["stage2_kernels"])  # as from JSON
    assert TokenizerConfig.from_dict(values) == config
    assert TokenizerConfig.tiny() == TokenizerConfig.tiny(modality="eeg")
