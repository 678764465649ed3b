from fractions import Fraction

import pytest
import torch

from mne_neurorvq.nn import _tuning
from mne_neurorvq.nn.quantizer import ResidualVQ, cosine_kmeans, l2norm


def _quantizer(n_code=32, code_dim=8, n_levels=3, seed=0):
    gen = torch.Generator().manual_seed(seed)
    rvq = ResidualVQ(n_code, code_dim, n_levels)
    for codebook in rvq.codebooks():
        codebook.weight.data.copy_(l2norm(torch.randn(n_code, code_dim, generator=gen)))
        codebook.initted.fill_(1.0)
    return rvq


def test_nearest_code_equals_brute_force_search():
    rvq = _quantizer().eval()
    x = torch.randn(2, 8, 3, 5)
    out = rvq(x, return_levels=True)
    residual = x.permute(0, 2, 3, 1).reshape(-1, 8)
    for level, codebook in enumerate(rvq.codebooks()):
        z = l2norm(residual)
        brute = torch.cdist(z, codebook.weight).argmin(dim=1)
        assert torch.equal(out.indices[level], brute)
        residual = residual - codebook.weight[brute]
    # the quantised sum is the sum of the chosen codes
    summed = rvq.lookup(out.indices).reshape(2, 3, 5, 8).permute(0, 3, 1, 2)
    torch.testing.assert_close(out.quantized, summed, atol=1e-6, rtol=0)


def _exact_nearest(z, weight):
    """Oracle: smallest exact |e|^2 - 2 z.e in rational arithmetic, first index."""
    codes = [[Fraction(v) for v in row] for row in weight.double().tolist()]
    nearest = []
    for row in z.double().tolist():
        values = [
            sum(e * e for e in code)
            - 2 * sum(Fraction(a) * e for a, e in zip(row, code, strict=True))
            for code in codes
        ]
        nearest.append(values.index(min(values)))
    return torch.tensor(nearest)


def _hard_rows(codebook, gen):
    """Rows near codes, duplicates of codes, and midpoints of two codes."""
    weight = codebook.weight
    n_code, code_dim = weight.shape
    z = l2norm(weight[torch.randint(0, n_code, (120,), generator=gen)])
    z[40:80] = l2norm(z[40:80] + 0.2 * torch.randn(40, code_dim, generator=gen))
    # equidistant from two codes in exact arithmetic, apart from float rounding
    pairs = torch.randint(0, n_code, (40, 2), generator=gen)
    z[80:] = l2norm(weight[pairs[:, 0]] + weight[pairs[:, 1]])
    return z


@pytest.mark.parametrize("block", [32 * 7, 32 * 64, 2**22])
def test_nearest_code_is_exact_whatever_the_block(monkeypatch, block):
    """Blocks of 7 rows, 64 rows or all rows pick the exact nearest code."""
    monkeypatch.setenv(_tuning.ENV_VAR, f"search_block={block}")
    codebook = _quantizer(n_code=32, code_dim=8).codebooks()[0]
    codebook.weight.data[5] = codebook.weight.data[3]  # a duplicated code
    z = _hard_rows(codebook, torch.Generator().manual_seed(3))
    weight = codebook.weight
    expected = _exact_nearest(z, weight)
    assert torch.equal(codebook.nearest(z), expected)
    # the float32 distances are within the margin of the float64 ones
    blocks = torch.cat([block.clone() for _, block in codebook.distance_blocks(z)])
    exact = torch.cdist(z.double(), weight.double()).pow(2)
    margin = codebook.float32_margin(z)
    assert ((blocks.double() - exact).abs() <= margin[:, None] / 2).all()
    # the test is not vacuous: float32 alone cannot decide some of the rows
    two = blocks.topk(2, dim=1, largest=False).values
    assert ((two[:, 1] - two[:, 0]) <= margin).sum() >= 20
    gaps = codebook.distance_gap(z)
    torch.testing.assert_close(gaps, (two[:, 1] - two[:, 0]), atol=1e-5, rtol=0)


def test_nearest_code_is_exact_at_the_published_width():
    """128-wide codes: near ties decided as the exact oracle decides them."""
    codebook = _quantizer(n_code=64, code_dim=128, n_levels=1).codebooks()[0]
    z = _hard_rows(codebook, torch.Generator().manual_seed(4))
    assert torch.equal(codebook.nearest(z), _exact_nearest(z, codebook.weight))


def test_ties_go_to_the_first_code():
    codebook = _quantizer(n_code=4, code_dim=2).codebooks()[0]
    codebook.weight.data.copy_(
        torch.tensor([[0.0, 1.0], [1.0, 0.0], [1.0, 0.0], [0.0, -1.0]])
    )
    assert codebook.nearest(torch.tensor([[1.0, 0.0], [0.0, -1.0]])).tolist() == [1, 3]


def test_eval_mode_changes_no_state():
    rvq = _quantizer().eval()
    before = {k: v.clone() for k, v in rvq.state_dict().items()}
    rvq(torch.randn(4, 8, 2, 3))
    after = rvq.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_training_step_updates_codes_and_usage_average():
    rvq = _quantizer().train()
    before = rvq.layers[0].embedding.weight.clone()
    out = rvq(torch.randn(4, 8, 2, 3))
    after = rvq.layers[0].embedding.weight
    used = out.indices[0].unique()
    unused = torch.ones(32, dtype=torch.bool)
    unused[used] = False
    assert not torch.allclose(before[used], after[used])
    torch.testing.assert_close(before[unused], after[unused], atol=1e-6, rtol=0)
    torch.testing.assert_close(after.norm(dim=1), torch.ones(32), atol=1e-6, rtol=0)
    counts = torch.bincount(out.indices[0], minlength=32).float()
    torch.testing.assert_close(rvq.layers[0].cluster_size, 0.01 * counts)


def test_uninitialised_codebook_is_refused_in_eval_and_kmeans_in_training():
    rvq = ResidualVQ(16, 4, 2)
    with pytest.raises(RuntimeError, match="not initialised"):
        rvq.eval()(torch.randn(2, 4, 3, 4))
    rvq.generator = torch.Generator().manual_seed(0)
    rvq.train()(torch.randn(2, 4, 3, 4))
    for codebook in rvq.codebooks():
        assert codebook.is_initialized
        assert torch.allclose(codebook.weight.norm(dim=1), torch.ones(16), atol=1e-5)


def test_cosine_kmeans_finds_separated_clusters():
    gen = torch.Generator().manual_seed(1)
    centres = l2norm(torch.randn(4, 6, generator=gen))
    samples = l2norm(
        centres.repeat_interleave(50, 0) + 0.05 * torch.randn(200, 6, generator=gen)
    )
    centroids, counts = cosine_kmeans(samples, 4, n_iter=10, generator=gen)
    assert counts.sum() == 200
    similarity = centroids @ centres.t()
    # every true centre is recovered by some centroid
    assert (similarity.max(dim=0).values > 0.99).all()


def test_straight_through_gradient_reaches_the_input():
    rvq = _quantizer().train()
    x = torch.randn(2, 8, 2, 2, requires_grad=True)
    out = rvq(x)
    (out.quantized.sum() + out.loss).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_code_norm_cache_follows_every_update():
    rvq = _quantizer().train()
    codebook = rvq.layers[0].embedding
    codebook.code_norms()
    rvq(torch.randn(4, 8, 2, 3))  # EMA update through .data
    torch.testing.assert_close(codebook.code_norms(), codebook.weight.pow(2).sum(1))
    state = {k: v * 2 for k, v in rvq.state_dict().items()}
    rvq.load_state_dict(state)
    torch.testing.assert_close(codebook.code_norms(), codebook.weight.pow(2).sum(1))


def test_is_initialised_is_a_deprecated_alias_of_is_initialized():
    codebook = ResidualVQ(16, 4, 2).codebooks()[0]
    with pytest.warns(FutureWarning, match="use is_initialized"):
        assert codebook.is_initialised is codebook.is_initialized is False
