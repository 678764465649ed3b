"""Command-line smoke runs on two EEGMAT recordings."""

import json

import torch

from mne_neurorvq.cli import main
from mne_neurorvq.nn.checkpoints import load_foundation, load_tokenizer
from mne_neurorvq.training import CHECKPOINT_NAME


def test_train_tokenizer_then_pretrain(data_path, tmp_path, capsys):
    files = [str(data_path / "eegmat" / f"Subject00_{k}.edf") for k in (1, 2)]
    common = [
        "--config",
        "tiny",
        "--batch-size",
        "4",
        "--max-windows",
        "4",
        "--threads",
        "1",
        "--no-progress",
        "--seconds",
        "4",
    ]
    out = tmp_path / "tok"
    args = [
        "train-tokenizer",
        *files,
        "--out",
        str(out),
        "--epochs",
        "1",
        "--checkpoint-every",
        "1",
        *common,
    ]
    assert main(args) == 0
    tokenizer = load_tokenizer(out / "tokenizer.pt")
    assert tokenizer.config.n_code == 64
    state = torch.load(out / CHECKPOINT_NAME, weights_only=True)
    assert state["position"]["step"] == 2  # 8 windows, batches of 4
    history = [json.loads(x) for x in (out / "history.jsonl").read_text().splitlines()]
    assert len(history) == 1 and "perplexity" in history[0]["usage"]
    printed = capsys.readouterr().out
    assert "8 windows of 4 s" in printed and "perplexity/level" in printed
    # resuming a finished run changes nothing
    assert main([*args, "--resume"]) == 0
    resumed = load_tokenizer(out / "tokenizer.pt")
    assert all(
        torch.equal(v, resumed.state_dict()[k])
        for k, v in tokenizer.state_dict().items()
    )

    fm = tmp_path / "fm"
    assert (
        main(
            [
                "pretrain",
                files[0],
                "--tokenizer",
                str(out / "tokenizer.pt"),
                "--out",
                str(fm),
                "--epochs",
                "1",
                "--mask-ratio",
                "0.4",
                *common,
            ]
        )
        == 0
    )
    model = load_foundation(fm / "foundation.pt", pretraining=True)
    assert model.config.vocab_size == 64
    assert "acc/base per scale" in capsys.readouterr().out
