import pytest
import torch

from mne_neurorvq.nn.transformer import Attention, Block, token_indices


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
