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
