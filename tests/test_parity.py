import shutil

import torch

from mne_neurorvq.parity import main, run_parity


def test_fixture_parity_holds(parity_path, capsys):
    """Every reference output (tokens exactly) is within the README's tolerances."""
    assert main([str(parity_path)]) == 0
    printed = capsys.readouterr().out
    assert "153 of 153 outputs within tolerance" in printed


def test_perturbed_weights_are_detected(parity_path, tmp_path):
    """The check can fail: one changed weight shows up as failures and exit 1."""
    for item in parity_path.iterdir():
        if item.name != "tokenizer_state_dict.pt":
            (tmp_path / item.name).symlink_to(item)
    state = torch.load(parity_path / "tokenizer_state_dict.pt", weights_only=True)
    state["encoder.blocks.1.attn.proj.weight"] *= 1.01
    torch.save(state, tmp_path / "tokenizer_state_dict.pt")
    results = run_parity(tmp_path, verbose=False)
    failed = {r.key for r in results if not r.ok}
    assert "encoder_features" in failed and "patch_embed" not in failed
    assert main([str(tmp_path)]) == 1
    shutil.rmtree(tmp_path)
