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


def test_multimodal_fixture_parity_holds(parity_multimodal_path, capsys, tmp_path):
    """Every ECG, PPG and EMG case is within the README's tolerances."""
    import json

    report = tmp_path / "parity.json"
    assert main([str(parity_multimodal_path), "--json", str(report)]) == 0
    assert "165 of 165 outputs within tolerance" in capsys.readouterr().out
    by_modality = {}
    for result in json.loads(report.read_text()):
        by_modality.setdefault(result["case"][:3], []).append(result)
    assert sorted(by_modality) == ["ecg", "emg", "ppg"]
    for modality, rows in by_modality.items():
        keys = {r["key"] for r in rows}
        assert {"patch_embed", "tokens", "std_recon_signal", "target_sin"} <= keys
        tokens = [r for r in rows if r["key"] == "tokens"]
        assert all(r["agreement"] == 1.0 for r in tokens), modality


def test_multimodal_perturbation_is_detected(parity_multimodal_path, tmp_path):
    """One EMG conv weight changed by 1e-3 breaks the comparison (EMG folder)."""
    (tmp_path / "emg").mkdir()
    for item in (parity_multimodal_path / "emg").iterdir():
        if item.name != "tokenizer_state_dict.pt":
            (tmp_path / "emg" / item.name).symlink_to(item)
    source = parity_multimodal_path / "emg" / "tokenizer_state_dict.pt"
    state = torch.load(source, weights_only=True)
    state["encoder.patch_embed.conv1_3.weight"][0, 0, 0, 0] += 1e-3
    torch.save(state, tmp_path / "emg" / "tokenizer_state_dict.pt")
    results = run_parity(tmp_path, verbose=False)
    failed = {r.key for r in results if not r.ok}
    assert "patch_embed" in failed and "target_sin" not in failed
    assert {r.case for r in results} == {"emg_16ch", "emg_6ch_shuffled"}


def test_phase_targets_are_compared_only_where_the_phase_is_defined():
    """A phase error at a bin below 1e-3 x the patch maximum is ignored."""
    import math

    from mne_neurorvq.parity import compare_output, phase_bins

    t = torch.arange(40, dtype=torch.float64)
    x = torch.cos(2 * math.pi * 3 * t / 40) + 1e-5 * torch.cos(2 * math.pi * 7 * t / 40)
    patches = x.reshape(1, 1, 1, 40).float()
    keep = phase_bins(patches)[0, 0, 0]
    assert keep[3] and keep[37] and not keep[7] and not keep[0]
    expected = torch.sin(torch.fft.fft(patches.double(), dim=-1).angle()).float()
    weak, strong = expected.clone(), expected.clone()
    weak[..., 7] += 0.5  # |X| 2e-4, 1e-5 of the patch's largest: no phase
    strong[..., 3] += 3e-4  # the strong bin, just above atol 2e-4
    assert compare_output("c", "target_sin", weak, expected, 1.0, patches).ok
    result = compare_output("c", "target_sin", strong, expected, 1.0, patches)
    assert not result.ok and result.max_abs_err > 2e-4
    assert 0 < result.compared < 1
    # without the rule (another output) the weak-bin error is caught
    assert not compare_output("c", "patch_embed", weak, expected, 1.0).ok
