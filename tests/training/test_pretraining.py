import json

import numpy as np
import pytest
import torch

from mne_neurorvq.nn import FoundationConfig
from mne_neurorvq.nn.checkpoints import load_foundation
from mne_neurorvq.training import (
    PretrainingTask,
    TokenizerTraining,
    Trainer,
    foundation_preset,
    masked_token_accuracy,
    most_frequent_token_accuracy,
    random_mask,
)
from mne_neurorvq.training.pretraining import tokens_for_pretraining

from ._workers import CONFIG


@pytest.fixture(scope="module")
def tokenizer():
    model = TokenizerTraining(CONFIG).build(seed=0)
    from ._workers import synthetic_dataset

    ds = synthetic_dataset()
    x = torch.stack([ds[i][0] for i in range(4)])
    model(x, ds[0][1])  # k-means initialisation
    return model.eval()


def test_random_mask_counts():
    gen = torch.Generator().manual_seed(0)
    for n_tokens, ratio, expected in ((76, 0.5, 38), (7, 0.5, 4), (10, 0.25, 2)):
        mask = random_mask(5, n_tokens, ratio, gen)
        assert mask.dtype == torch.bool and mask.shape == (5, n_tokens)
        assert mask.sum(dim=1).tolist() == [expected] * 5
    assert random_mask(2, 3, 0.01, gen).sum(dim=1).tolist() == [1, 1]
    assert random_mask(2, 3, 0.99, gen).sum(dim=1).tolist() == [2, 2]
    a = random_mask(4, 20, 0.5, torch.Generator().manual_seed(3))
    b = random_mask(4, 20, 0.5, torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and not torch.equal(a[0], a[1])
    with pytest.raises(ValueError, match="mask ratio"):
        random_mask(1, 4, 1.0)


def test_accuracy_functions():
    tokens = torch.tensor([[[[1, 2, 2, 0]]]])  # (S=1, L=1, B=1, T=4)
    mask = torch.tensor([[True, True, True, False]])
    logits = torch.full((1, 3, 4), -1.0)
    logits[0, 0, 1] = logits[0, 1, 0] = logits[0, 2, 2] = 1.0  # right, wrong, right
    torch.testing.assert_close(
        masked_token_accuracy(logits, tokens, mask), torch.tensor([2 / 3])
    )
    torch.testing.assert_close(
        most_frequent_token_accuracy(tokens, mask), torch.tensor([2 / 3])
    )


def test_tokens_layout(tokenizer, dataset):
    x = torch.stack([dataset[i][0] for i in range(2)])
    chans = dataset[0][1]
    tokens = tokens_for_pretraining(tokenizer, x, chans)
    S, L = CONFIG.n_scales, CONFIG.n_levels
    assert tokens.shape == (S, L, 2, 3 * 2)
    with torch.no_grad():
        out = tokenizer(x, chans)
    assert torch.equal(tokens, out.tokens)  # (S, L, B, N*A), token j = n*A + a


def test_pretraining_reports_accuracy(tokenizer, dataset, tmp_path):
    config = foundation_preset("tiny", tokenizer.config)
    assert config.vocab_size == CONFIG.n_code and config.depth == 1
    frozen = {k: v.clone() for k, v in tokenizer.state_dict().items()}
    task = PretrainingTask(tokenizer, config, mask_ratio=0.5)
    result = Trainer(
        task,
        dataset,
        tmp_path,
        epochs=2,
        batch_size=4,
        lr=1e-3,
        eval_data=dataset,
        progress=False,
        verbose=False,
    ).fit()
    S, L = CONFIG.n_scales, CONFIG.n_levels
    for entry in result.history:
        for part in (entry["usage"], entry["eval"]):
            acc, base = np.array(part["accuracy"]), np.array(part["baseline"])
            assert acc.shape == base.shape == (S, L)
            assert ((acc >= 0) & (acc <= 1)).all() and ((base > 0) & (base <= 1)).all()
            assert len(part["accuracy_per_scale"]) == S
        assert np.isfinite(entry["train"]["loss"])
    # half of the tokens masked: 12 windows of 3 x 2 and 12 of 2 x 2 tokens
    assert result.history[-1]["eval"]["n_masked"] == 12 * 3 + 12 * 2
    # the tokenizer stayed frozen
    assert all(torch.equal(frozen[k], v) for k, v in tokenizer.state_dict().items())
    model = load_foundation(tmp_path / "foundation.pt", pretraining=True)
    for key, value in model.state_dict().items():
        if not key.startswith(("fc_norm", "head.")):
            assert torch.equal(value, result.model.state_dict()[key].cpu()), key
    assert json.loads((tmp_path / "run.json").read_text())["model"]["mask_ratio"] == 0.5


def test_pretraining_config_must_match_tokenizer(tokenizer):
    with pytest.raises(ValueError, match="vocab_size"):
        PretrainingTask(tokenizer, FoundationConfig.tiny(vocab_size=7))
