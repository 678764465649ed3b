import mne
import pytest
import torch

from mne_neurorvq.nn import (
    FoundationConfig,
    NeuroRVQFoundation,
    _tuning,
    pretraining_loss,
)
from mne_neurorvq.nn.checkpoints import load_foundation


def _model(**kwargs):
    model = NeuroRVQFoundation(config=FoundationConfig.tiny(), **kwargs)
    model.init_weights(torch.Generator().manual_seed(0))
    return model.eval()


def test_eegmodule_signature_and_chs_info():
    info = mne.create_info(["Cz", "C3", "C4"], 200.0, "eeg")
    model = _model(n_outputs=3, chs_info=info["chs"], n_times=800)
    assert model.n_chans == 3 and model.chan_idx.tolist() == [36, 9, 10]
    logits = model(torch.randn(2, 3, 800))
    assert logits.shape == (2, 3)
    out = model(torch.randn(2, 3, 800), return_features=True)
    assert out["features"].shape == (2, 800)
    model.reset_head(5)
    assert model(torch.randn(1, 3, 400)).shape == (1, 5)
    with pytest.raises(ValueError, match="200 Hz"):
        NeuroRVQFoundation(config=FoundationConfig.tiny(), sfreq=160)


def test_pretraining_shapes_and_loss():
    model = _model(pretraining=True)
    x = torch.randn(2, 3, 400)
    mask = torch.zeros(2, 6, dtype=torch.bool)
    mask[:, ::2] = True
    masked, symmetric = model.forward_pretraining(
        x, mask, chan_idx=torch.tensor([1, 2, 3])
    )
    n_heads = model.config.n_tokens_per_patch
    assert masked.shape == (n_heads, 6, 64) and symmetric.shape == (n_heads, 6, 64)
    tokens = torch.randint(0, 64, (4, 2, 2, 6))
    loss, ce_m, ce_s = pretraining_loss(masked, symmetric, tokens, mask)
    assert ce_m.shape == (n_heads,) and torch.isclose(loss, ce_m.mean() + ce_s.mean())
    with pytest.raises(RuntimeError, match="pre-training"):
        _model().forward_pretraining(x, mask, chan_idx=torch.tensor([1, 2, 3]))


def test_embedding_does_not_depend_on_batch_composition(parity_path, parity_cases):
    """Real EEG through the reference-fixture weights, batched or one at a time."""
    model = load_foundation(parity_path / "foundation_model_state_dict.pt")
    case = parity_cases[2]  # EEGMAT, 19 channels
    x, chans = case["x"], case["chan_vocab_idx"]
    with torch.inference_mode():
        together = model.embed(x, chans)
        alone = torch.cat([model.embed(x[i : i + 1], chans) for i in range(len(x))])
        # and mixed with another, unrelated epoch
        noise = torch.randn(1, *x.shape[1:]) * 30
        mixed = model.embed(torch.cat([noise, x]), chans)[1:]
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(together, mixed, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(
        together, case["expected"]["fm_embedding"], atol=5e-5, rtol=1e-5
    )


def test_long_epochs_are_windowed_not_cropped():
    """30 s of 19 channels (570 tokens) -> 3 windows of 10 s; all tokens count."""
    model = _model()
    chans = torch.arange(19)
    x = torch.randn(2, 19, 30 * 200)
    with torch.inference_mode():
        pooled = model.pooled_features(x, chans)
        parts = [
            model.pool(model.forward_features(x[..., i : i + 2000], chans))
            for i in (0, 2000, 4000)
        ]
    torch.testing.assert_close(pooled, sum(parts) / 3, atol=1e-5, rtol=1e-5)
    # the last 10 s matter: changing them changes the embedding
    y = x.clone()
    y[..., 4000:] = 0
    with torch.inference_mode():
        assert not torch.allclose(model.embed(y, chans), model.embed(x, chans))


def test_cpu_inference_chunks_give_the_same_embeddings(monkeypatch):
    """Chunks of sequences through the blocks: the same embedding up to rounding.

    Every sequence is computed on its own; only the shapes of the matrix
    products change, and with them, on some BLAS, the order of the sums.
    """
    model = NeuroRVQFoundation(config=FoundationConfig.tiny())
    model.init_weights(torch.Generator().manual_seed(0))
    model.eval()
    x = torch.randn(5, 3, 400, generator=torch.Generator().manual_seed(1))
    chans = torch.tensor([36, 9, 10])
    with torch.inference_mode():
        monkeypatch.setenv(_tuning.ENV_VAR, "sequences=64")
        whole = model.embed(x, chans)  # 20 sequences, one chunk
        monkeypatch.setenv(_tuning.ENV_VAR, "sequences=3")
        chunked = model.embed(x, chans)
    torch.testing.assert_close(chunked, whole, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("recompute", [True, False])
def test_head_by_head_losses_equal_the_logits_path(recompute):
    """Same loss, gradients and hits as pretraining_loss on all logits."""
    gen = torch.Generator().manual_seed(2)
    x = 20 * torch.randn(3, 3, 400, generator=gen)
    mask = torch.rand(3, 6, generator=gen) < 0.5
    tokens = torch.randint(0, 64, (4, 2, 3, 6), generator=gen)
    chans = [36, 9, 10]
    reference, lean = _model(pretraining=True).train(), _model(pretraining=True)
    lean.train()
    masked, symmetric = reference.forward_pretraining(x, mask, chans)
    loss, ce_m, ce_s = pretraining_loss(masked, symmetric, tokens, mask)
    loss.backward()
    lean_m, lean_s, hits = lean.pretraining_losses(
        x, mask, tokens, chans, recompute=recompute
    )
    (lean_m.mean() + lean_s.mean()).backward()
    torch.testing.assert_close(lean_m, ce_m, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(lean_s, ce_s, atol=1e-6, rtol=1e-6)
    flat = tokens.reshape(8, 3, 6)[:, mask]
    assert torch.equal(hits, (masked.argmax(-1) == flat).sum(dim=1))
    for (name, a), b in zip(
        reference.named_parameters(), lean.parameters(), strict=True
    ):
        if a.grad is not None:
            torch.testing.assert_close(b.grad, a.grad, atol=1e-6, rtol=1e-5, msg=name)


def test_bf16_embedding_agrees_with_float32_in_chunks(monkeypatch):
    """bf16 autocast (emulated where not native): close to float32, any chunks.

    Under autocast the blocks run out of place (``_in_place_inference``).
    """
    model = NeuroRVQFoundation(config=FoundationConfig.tiny())
    model.init_weights(torch.Generator().manual_seed(0))
    model.eval()
    x = 20 * torch.randn(5, 3, 400, generator=torch.Generator().manual_seed(1))
    chans = torch.tensor([36, 9, 10])
    monkeypatch.setenv(_tuning.ENV_VAR, "sequences=3")
    with torch.inference_mode():
        reference = model.embed(x, chans)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            chunked = model.embed(x, chans).float()
        monkeypatch.setenv(_tuning.ENV_VAR, "sequences=64")
        with torch.autocast("cpu", dtype=torch.bfloat16):
            whole = model.embed(x, chans).float()
    cosine = torch.nn.functional.cosine_similarity(chunked, reference, dim=1)
    assert cosine.min() > 0.999
    torch.testing.assert_close(chunked, whole, atol=2e-2, rtol=2e-2)
