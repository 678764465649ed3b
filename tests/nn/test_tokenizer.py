import pytest
import torch

from mne_neurorvq.nn import NeuroRVQTokenizerModel, TokenizerConfig
from mne_neurorvq.nn.fourier import fourier_targets

from .._near_ties import assert_tokens_equal_outside_near_ties, token_gaps


def _model(seed=0):
    model = NeuroRVQTokenizerModel(TokenizerConfig.tiny())
    model.init_weights(torch.Generator().manual_seed(seed))
    return model.eval()


def _eeg(batch=3, n_chans=4, seconds=2, seed=0):
    gen = torch.Generator().manual_seed(seed)
    t = torch.arange(seconds * 200) / 200
    alpha = 20 * torch.sin(2 * torch.pi * 10 * t)
    return alpha + 5 * torch.randn(batch, n_chans, seconds * 200, generator=gen)


CHANS = torch.tensor([36, 9, 10, 55])  # cz c3 c4 fp1


def test_tokenize_shape_dtype_and_agreement_with_forward():
    model = _model()
    x = _eeg()
    tokens = model.tokenize(x, CHANS)
    assert tokens.shape == (3, 4, 2, 4, 2) and tokens.dtype == torch.int64
    assert tokens.min() >= 0 and tokens.max() < model.config.n_code
    out = model(x, CHANS)
    # forward's tokens are (S, L, B, N*A)
    assert torch.equal(out.tokens, tokens.permute(3, 4, 0, 1, 2).reshape(4, 2, 3, 8))


def test_decode_tokens_reproduces_forward_reconstruction():
    model = _model()
    x = _eeg()
    with torch.no_grad():
        tokens = model.tokenize(x, CHANS)
        targets = fourier_targets(x.reshape(3, 4, 2, 200))
        stats = (targets.amplitude_mean.flatten(), targets.amplitude_std.flatten())
        recon = model.decode_tokens(tokens, CHANS, amplitude_stats=stats)
        out = model(x, CHANS)
    torch.testing.assert_close(
        recon.reshape(3, 8, 200), out.std_recon, atol=1e-5, rtol=1e-4
    )
    # from indices alone (default statistics) the result is still standardised
    alone = model.decode_tokens(tokens, CHANS)
    torch.testing.assert_close(
        alone.mean(dim=(1, 2)), torch.zeros(3), atol=1e-5, rtol=0
    )


def test_tokens_do_not_depend_on_batch_composition():
    """Batched or one at a time: the same tokens outside near ties."""
    model = _model()
    x = _eeg(batch=4)
    with torch.no_grad():
        together = model.tokenize(x, CHANS)
        alone = torch.cat([model.tokenize(x[i : i + 1], CHANS) for i in range(4)])
    assert_tokens_equal_outside_near_ties(alone, together, token_gaps(model, x, CHANS))


def test_loss_terms_are_finite_and_training_reduces_the_loss():
    torch.manual_seed(0)
    model = _model().train()
    x = _eeg(batch=4, seconds=2)
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(15):
        out = model(x, CHANS)
        for term in (out.loss_rvq, out.loss_amplitude, out.loss_phase, out.loss_signal):
            assert torch.isfinite(term)
        optimiser.zero_grad()
        out.loss.backward()
        optimiser.step()
        losses.append(float(out.loss.detach()))
    assert losses[-1] < 0.8 * losses[0]


def test_key_layout_follows_the_published_checkpoint():
    keys = list(NeuroRVQTokenizerModel(TokenizerConfig.tiny()).state_dict())
    assert keys[:4] == [
        "encoder.cls_token",
        "encoder.pos_embed",
        "encoder.time_embed",
        "encoder.patch_embed.conv1_1.weight",
    ]
    assert "quantize_4.layers.1.embedding.initted" in keys
    assert "decode_task_layer_angle_cos.2.bias" in keys


def test_code_space_heads_stay_float32_under_autocast():
    model = _model()
    x = _eeg()
    patches = x.reshape(3, 4, 2, 200)
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        encoded = model.encode(x, CHANS)
        features = model.encoder_features(patches, CHANS)
    assert encoded.dtype == torch.float32
    with torch.inference_mode():  # the head in float32, outside autocast
        head = model.encode_task_layer_1(features[0].float())
    expected = head.reshape(3, 4, 2, -1).permute(0, 3, 1, 2)
    assert torch.equal(encoded[0], expected)


def test_decode_tokens_under_bf16_autocast_returns_float32_signal():
    model = _model()
    x = _eeg()
    with torch.inference_mode():
        tokens = model.tokenize(x, CHANS)
        reference = model.decode_tokens(tokens, CHANS)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            signal = model.decode_tokens(tokens, CHANS)
    assert signal.dtype == torch.float32 and signal.shape == reference.shape
    cosine = torch.nn.functional.cosine_similarity(
        signal.flatten(), reference.flatten(), dim=0
    )
    assert cosine > 0.99


def test_emg_even_kernels_lengthen_then_pooling_floors():
    """Branch 3 of EMG: 200 -> 201 (kernel 8, padding 4) -> 100 -> 101 -> 25."""
    from mne_neurorvq.nn import MultiScaleTemporalConv
    from mne_neurorvq.nn.temporal_conv import average_pool_time

    for width, n_times in ((2, 201), (4, 101)):
        x = torch.randn(2, 8, 3, n_times)
        expected = torch.nn.AvgPool2d((1, width))(x)
        assert torch.equal(average_pool_time(x, width), expected)
    config = TokenizerConfig.tiny(modality="emg")
    conv = MultiScaleTemporalConv(config).eval()
    assert conv.conv1_3.kernel_size == (1, 8) and conv.conv1_3.padding == (0, 4)
    assert conv.conv2_3.kernel_size == (1, 4) and conv.conv2_3.padding == (0, 2)
    with torch.inference_mode():
        assert conv(torch.randn(2, 5, 200)).shape == (4, 2, 5, 200)


@pytest.mark.parametrize("modality", ["ecg", "ppg", "emg"])
def test_other_modalities_tokenize_and_decode(modality):
    config = TokenizerConfig.tiny(modality=modality)
    model = NeuroRVQTokenizerModel(config).eval()
    model.init_weights(torch.Generator().manual_seed(0))
    chan_idx = torch.tensor([0] if modality == "ppg" else [0, 3])
    x = torch.randn(2, len(chan_idx), 3 * config.patch_size)
    with torch.inference_mode():
        tokens = model.tokenize(x, chan_idx)
        out = model(x, chan_idx)
        signal = model.decode_tokens(tokens, chan_idx)
    assert tokens.shape == (2, len(chan_idx), 3, 4, config.n_levels)
    assert torch.equal(tokens.permute(3, 4, 0, 1, 2).flatten(3), out.tokens)
    assert signal.shape == x.shape
