import json

import numpy as np
import pytest
import torch

from mne_neurorvq.nn import TokenizerConfig
from mne_neurorvq.nn.checkpoints import load_tokenizer
from mne_neurorvq.nn.quantizer import l2norm
from mne_neurorvq.training import (
    CodebookUsage,
    DeadCodeRestarter,
    TokenizerTraining,
    Trainer,
    WindowDataset,
    usage_statistics,
)
from mne_neurorvq.training.usage import code_counts

from ._workers import CONFIG


def _fit(dataset, tmp_path, **kwargs):
    task = TokenizerTraining(CONFIG, **kwargs.pop("task", {}))
    options = dict(epochs=1, batch_size=4, progress=False, verbose=False, seed=0)
    options.update(kwargs)
    return task, Trainer(task, dataset, tmp_path, **options).fit()


def test_loss_decreases(tmp_path):
    # one batch seen repeatedly: the loss must go down within a few steps
    rng = np.random.default_rng(0)
    t = np.arange(400) / 200
    data = 20 * np.sin(2 * np.pi * rng.uniform(5, 20, (8, 2, 1)) * t)
    ds = WindowDataset.from_arrays(data + rng.standard_normal(data.shape), [36, 9])
    task, result = _fit(
        ds,
        tmp_path,
        epochs=25,
        batch_size=8,
        lr=3e-3,
        warmup_steps=0,
        schedule="constant",
    )
    losses = [entry["train"]["loss"] for entry in result.history]
    assert result.step == 25
    assert np.mean(losses[-5:]) < losses[0] - 0.1, losses
    assert result.history[-1]["train"]["signal"] < result.history[0]["train"]["signal"]


def test_kmeans_init_on_first_step_and_published_layout(dataset, tmp_path):
    task, result = _fit(dataset, tmp_path, max_steps=1)
    for quantizer in result.model.quantizers:
        for codebook in quantizer.codebooks():
            assert codebook.is_initialized
            torch.testing.assert_close(
                codebook.weight.norm(dim=1), torch.ones(CONFIG.n_code)
            )
    loaded = load_tokenizer(tmp_path / "tokenizer.pt")
    assert loaded.config == CONFIG
    for key, value in result.model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value.cpu()), key
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["model"]["config"]["n_code"] == CONFIG.n_code
    assert run["total_steps"] == 1


def test_usage_reporting(dataset, tmp_path):
    task, result = _fit(
        dataset, tmp_path, epochs=2, eval_data=dataset, task=dict(dead_after=2)
    )
    lines = (tmp_path / "history.jsonl").read_text().splitlines()
    history = [json.loads(line) for line in lines]
    assert len(history) == 2 == len(result.history)
    S, L, K = CONFIG.n_scales, CONFIG.n_levels, CONFIG.n_code
    for entry in history:
        usage = entry["usage"]
        ppl = np.array(usage["perplexity"])
        share = np.array(usage["used_share"])
        dead = np.array(usage["dead"])
        assert ppl.shape == share.shape == dead.shape == (S, L)
        assert ((ppl >= 1) & (ppl <= K)).all()
        assert ((share > 0) & (share <= 1)).all()
        # perplexity cannot exceed the number of codes used
        assert (ppl <= share * K + 1e-6).all()
        assert ((dead >= 0) & (dead <= K)).all()
        # a code used this epoch may still be dead (unused in the last 2 steps),
        # but not more codes than were unused in the epoch's last 2 steps
        evaluation = entry["eval"]
        assert 0 < evaluation["mse"] < 10 and evaluation["n_windows"] == len(dataset)
        assert np.array(evaluation["perplexity"]).shape == (S, L)
    # the tracker agrees with the last step's tokens
    last_used = task.usage.last_used
    assert int(last_used.max()) == result.step


def test_usage_statistics_and_dead_codes():
    stats = usage_statistics(torch.tensor([[4.0, 4.0, 4.0, 4.0], [16.0, 0, 0, 0]]))
    torch.testing.assert_close(stats["perplexity"], torch.tensor([4.0, 1.0]).double())
    assert stats["used_share"].tolist() == [1.0, 0.25]
    usage = CodebookUsage(1, 1, 4, dead_after=2)
    tokens = torch.tensor([0, 1, 1]).reshape(1, 1, 3)
    usage.update(tokens, step=1)
    assert usage.dead().sum() == 0  # nothing dead before dead_after steps
    usage.update(torch.tensor([0]).reshape(1, 1, 1), step=2)
    assert usage.dead()[0, 0].tolist() == [False, False, True, True]
    usage.update(torch.tensor([0]).reshape(1, 1, 1), step=3)
    assert usage.dead()[0, 0].tolist() == [False, True, True, True]
    assert usage.summary()["used_share"] == [[0.5]]
    state = usage.state_dict()
    other = CodebookUsage(1, 1, 4, dead_after=5)
    other.load_state_dict(state)
    assert torch.equal(other.dead(), usage.dead())
    counts = code_counts(torch.tensor([[[3, 3, 1]], [[0, 2, 2]]]), 4)
    assert counts.tolist() == [[[0, 1, 0, 2]], [[1, 0, 2, 0]]]


def test_dead_code_restart(dataset):
    model = TokenizerTraining(CONFIG).build(seed=0)
    restarter = DeadCodeRestarter(model, seed=0)
    x = torch.stack([dataset[i][0] for i in range(4)])
    chans = dataset[0][1]
    out = model(x, chans)  # training mode: k-means, EMA, inputs recorded
    before = model.quantize_2.layers[1].embedding.weight.clone()
    dead = torch.zeros(CONFIG.n_scales, CONFIG.n_levels, CONFIG.n_code, dtype=bool)
    dead[1, 1, :5] = True
    assert restarter.restart(dead, step=1) == 5
    after = model.quantize_2.layers[1].embedding.weight
    assert torch.equal(after[5:], before[5:])
    assert not torch.equal(after[:5], before[:5])
    del out
    torch.testing.assert_close(after[:5].norm(dim=1), torch.ones(5))
    restarter.remove()
    with pytest.raises(RuntimeError, match="No inputs"):
        restarter.restart(dead, step=2)


def test_dead_code_restart_in_training(dataset, tmp_path):
    task, result = _fit(
        dataset, tmp_path, epochs=2, task=dict(dead_after=1, restart_dead=True)
    )
    restarted = [entry["train"].get("restarted", 0) for entry in result.history]
    assert sum(restarted) > 0
    for quantizer in result.model.quantizers:
        for codebook in quantizer.codebooks():
            torch.testing.assert_close(
                codebook.weight.norm(dim=1), torch.ones(CONFIG.n_code)
            )


def test_restart_codes_are_batch_inputs(dataset):
    model = TokenizerTraining(CONFIG).build(seed=0)
    restarter = DeadCodeRestarter(model, seed=0)
    x = torch.stack([dataset[i][0] for i in range(4)])
    model(x, dataset[0][1])
    pool = restarter._inputs[0][0]  # scale 1, level 1: normalised head outputs
    dead = torch.zeros(CONFIG.n_scales, CONFIG.n_levels, CONFIG.n_code, dtype=bool)
    dead[0, 0, [3, 7]] = True
    restarter.restart(dead, step=4)
    codes = model.quantize_1.layers[0].embedding.weight[[3, 7]]
    distances = torch.cdist(codes, pool).min(dim=1).values
    assert distances.max() < 1e-6
    torch.testing.assert_close(pool.norm(dim=1), torch.ones(len(pool)))
    assert l2norm(codes).allclose(codes)


def test_bf16_precision_runs(dataset, tmp_path):
    task, result = _fit(dataset, tmp_path, max_steps=2, precision="bf16")
    assert np.isfinite(result.history[-1]["train"]["loss"])
    with pytest.raises(ValueError, match="precision"):
        Trainer(task, dataset, tmp_path, precision="fp16")


def test_config_from_json(tmp_path):
    from mne_neurorvq.training import tokenizer_preset

    path = tmp_path / "c.json"
    path.write_text(json.dumps(TokenizerConfig.tiny(n_code=16).to_dict()))
    assert tokenizer_preset(str(path)).n_code == 16
    assert tokenizer_preset("small").embed_dim == 100
    with pytest.raises(ValueError, match="Unknown configuration"):
        tokenizer_preset("huge")
