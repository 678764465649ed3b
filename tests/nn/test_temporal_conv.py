import pytest
import torch

from mne_neurorvq.nn import MultiScaleTemporalConv, TokenizerConfig, _tuning
from mne_neurorvq.nn.temporal_conv import average_pool_time


def _conv(seed=0):
    torch.manual_seed(seed)
    return MultiScaleTemporalConv(TokenizerConfig.tiny()).eval()


def _patches(batch=3, n_patches=8, seed=0):
    gen = torch.Generator().manual_seed(seed)
    t = torch.arange(200) / 200
    alpha = 20 * torch.sin(2 * torch.pi * 10 * t)
    return alpha + 5 * torch.randn(batch, n_patches, 200, generator=gen)


@pytest.mark.parametrize(("width", "n_times"), [(2, 200), (4, 100), (4, 102), (3, 9)])
def test_time_pooling_equals_avgpool2d(width, n_times):
    x = torch.randn(2, 3, 5, n_times)
    expected = torch.nn.AvgPool2d((1, width))(x)
    assert torch.equal(average_pool_time(x, width), expected)


def test_temporal_convolutions_stay_float32_under_autocast():
    conv = _conv()
    patches = _patches()
    with torch.inference_mode():
        reference = conv(patches)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            embedded = conv(patches)
    assert embedded.dtype == torch.float32
    assert torch.equal(embedded, reference)


def test_temporal_convolutions_follow_a_cast_model():
    conv = _conv().to(torch.bfloat16)
    with torch.inference_mode():
        embedded = conv(_patches())
    assert embedded.dtype == torch.bfloat16


def test_cpu_inference_in_chunks_of_samples_gives_the_same_embedding(monkeypatch):
    conv = _conv()
    patches = _patches(batch=5)
    whole = conv(patches).detach()  # with gradients: one piece
    monkeypatch.setenv(_tuning.ENV_VAR, "samples=2")
    with torch.inference_mode():
        chunked = conv(patches)
        empty = conv(patches[:0])
    # oneDNN may pick another algorithm for another batch size: float rounding
    torch.testing.assert_close(chunked, whole, rtol=0, atol=1e-5)
    assert empty.shape == (4, 0, 8, whole.shape[-1])
