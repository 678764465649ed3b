import pytest
import torch

from mne_neurorvq.training import TokenizerTraining, Trainer, build_scheduler
from mne_neurorvq.training.schedule import LRFactor

from ._workers import CONFIG


def test_lr_factor_shapes():
    cosine = LRFactor("cosine", total_steps=12, warmup_steps=1, min_ratio=0.1)
    assert cosine(0) == 1.0 and cosine(1) == 1.0
    assert cosine(6) == pytest.approx(0.55)  # half-way through the decay
    assert cosine(11) == pytest.approx(0.1) and cosine(50) == pytest.approx(0.1)
    linear = LRFactor("linear", total_steps=12, warmup_steps=2, warmup_start=0.1)
    assert [linear(s) for s in (0, 1)] == pytest.approx([0.55, 1.0])
    assert linear(11) == pytest.approx(0.0)
    assert LRFactor("constant", 5, 0)(4) == 1.0
    with pytest.raises(ValueError, match="schedule"):
        LRFactor("step")


def test_scheduler_is_stepped_per_batch(dataset, tmp_path):
    task = TokenizerTraining(CONFIG)
    lrs = []
    Trainer(
        task,
        dataset,
        tmp_path,
        epochs=2,
        batch_size=4,
        lr=1e-3,
        warmup_steps=2,
        min_lr_ratio=0.0,
        progress=False,
        verbose=False,
        callbacks=[lambda trainer, step, out: lrs.append(_lr(trainer))],
    ).fit()
    assert len(lrs) == 12  # 6 batches per epoch
    assert lrs[0] == pytest.approx(1e-3)  # after warm-up step 1 of 2: next lr
    assert lrs[-1] == pytest.approx(0.0, abs=1e-12)
    assert all(a >= b for a, b in zip(lrs[1:-1], lrs[2:], strict=True))


def _lr(trainer):
    return trainer.optimizer.param_groups[0]["lr"]


def test_build_scheduler_state_dict_is_plain():
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.AdamW([param], lr=1.0)
    scheduler = build_scheduler(optimizer, "cosine", 10, 2)
    state = scheduler.state_dict()
    assert state["lr_lambdas"][0]["kind"] == "cosine"
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.5)
