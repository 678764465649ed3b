import pytest
import torch

from mne_neurorvq.nn import quantizer
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


@pytest.mark.parametrize("budget", [32 * 7, 32 * 64, 2**22])
def test_blocked_search_equals_one_distance_matrix(monkeypatch, budget):
    """Blocks of rows (7 rows, 64 rows, all rows) give the same distances."""
    monkeypatch.setitem(quantizer._BLOCK_ELEMENTS, "cpu", budget)
    codebook = _quantizer(n_code=32, code_dim=8).codebooks()[0]
    gen = torch.Generator().manual_seed(3)
    # rows close to codes, and exact duplicates of codes: near-ties and ties
    z = l2norm(codebook.weight[torch.randint(0, 32, (100,), generator=gen)])
    z[50:] = l2norm(z[50:] + 0.2 * torch.randn(50, 8, generator=gen))
    weight = codebook.weight
    full = torch.addmm(
        z.pow(2).sum(1, keepdim=True) + weight.pow(2).sum(1), z, weight.t(), alpha=-2.0
    )
    blocks = torch.cat([block.clone() for _, block in codebook.distance_blocks(z)])
    assert torch.equal(blocks, full)
    assert torch.equal(codebook.nearest(z), full.argmin(dim=1))
    two = full.topk(2, dim=1, largest=False).values
    assert torch.equal(codebook.distance_gap(z), two[:, 1] - two[:, 0])


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
        assert codebook.is_initialised
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
