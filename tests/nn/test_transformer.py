import pytest
import torch

from mne_neurorvq.nn import FoundationConfig, NeuroRVQFoundation
from mne_neurorvq.nn.transformer import (
    Attention,
    Block,
    _in_place_inference,
    token_indices,
)


def test_token_indices_are_channel_major_and_right_aligned():
    spatial, temporal = token_indices(torch.tensor([5, 9, 2]), 3, 256)
    assert spatial.tolist() == [5, 5, 5, 9, 9, 9, 2, 2, 2]
    assert temporal.tolist() == [253, 254, 255] * 3
    batched, _ = token_indices(torch.tensor([[1, 2], [3, 4]]), 2, 256)
    assert batched.tolist() == [[1, 1, 2, 2], [3, 3, 4, 4]]


def test_token_limit_is_enforced():
    with pytest.raises(ValueError, match="exceed the model's limit of 256"):
        token_indices(torch.arange(19), 14, 256)
    with pytest.raises(ValueError, match="temporal positions"):
        token_indices(torch.arange(1), 300, 256)


def test_attention_matches_the_spec_formula():
    """q/v bias, no k bias, shared per-head q/k LayerNorm, scale after the norms."""
    torch.manual_seed(0)
    attn = Attention(dim=40, num_heads=4).eval()
    for p in attn.parameters():
        torch.nn.init.normal_(p, std=0.5)
    x = torch.randn(2, 7, 40)
    qkv = x @ attn.qkv.weight.t()
    q, k, v = qkv.split(40, dim=-1)
    q, v = q + attn.q_bias, v + attn.v_bias

    def heads(t):
        return t.reshape(2, 7, 4, 10).transpose(1, 2)

    q = torch.nn.functional.layer_norm(
        heads(q), (10,), attn.q_norm.weight, attn.q_norm.bias, eps=1e-6
    )
    k = torch.nn.functional.layer_norm(
        heads(k), (10,), attn.k_norm.weight, attn.k_norm.bias, eps=1e-6
    )
    weights = ((q @ k.transpose(-1, -2)) * 10**-0.5).softmax(dim=-1)
    expected = attn.proj((weights @ heads(v)).transpose(1, 2).reshape(2, 7, 40))
    torch.testing.assert_close(attn(x), expected, atol=1e-5, rtol=1e-5)


def test_layer_scale_only_when_init_values_positive():
    assert Block(20, 2, 4.0, init_values=0.0).gamma_1 is None
    block = Block(20, 2, 4.0, init_values=1e-5)
    assert torch.equal(block.gamma_1, torch.full((20,), 1e-5))
    keys = list(block.state_dict())
    assert keys[:2] == ["gamma_1", "gamma_2"]


@pytest.mark.parametrize("init_values", [0.0, 0.1])
def test_in_place_inference_equals_the_block(init_values):
    """Block.forward_ (in place) is forward, bit for bit."""
    torch.manual_seed(0)
    block = Block(16, 4, 4.0, init_values=init_values).eval()
    if init_values:
        block.gamma_1.data.uniform_(0.05, 0.5)
        block.gamma_2.data.uniform_(0.05, 0.5)
    x = torch.randn(3, 7, 16)
    with torch.no_grad():
        expected = block(x)
        y = x.clone()
        out = block.forward_(y)
    assert out is y  # overwritten, no new tensor
    assert torch.equal(out, expected)


def test_blocks_run_in_place_only_in_plain_inference():
    model = NeuroRVQFoundation(config=FoundationConfig.tiny())
    model.init_weights(torch.Generator().manual_seed(0))
    x = torch.zeros(2, 5, model.config.embed_dim)
    assert not _in_place_inference(model, x)  # training mode
    model.eval()
    assert not _in_place_inference(model, x)  # gradients on
    with torch.no_grad():
        assert _in_place_inference(model, x)
        assert not _in_place_inference(model, x.transpose(0, 1))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            assert not _in_place_inference(model, x)
    with torch.inference_mode():
        assert _in_place_inference(model, x)
