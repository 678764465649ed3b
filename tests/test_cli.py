import subprocess
import sys

from mne_neurorvq.cli import main


def test_inspect_prints_inferred_config(parity_path, capsys):
    assert main(["inspect", str(parity_path / "tokenizer_state_dict.pt")]) == 0
    out = capsys.readouterr().out
    assert "NeuroRVQ tokenizer: " in out
    assert "encoder_depth    2" in out and "n_code           256" in out
    assert main(["inspect", str(parity_path / "foundation_model_state_dict.pt")]) == 0
    assert "(67 pre-training tensors)" in capsys.readouterr().out


def test_sys_info(capsys):
    assert main(["sys-info"]) == 0
    assert "torch threads:" in capsys.readouterr().out


def test_import_is_light():
    """Importing the package and the torch model does not import braindecode."""
    code = (
        "import sys, mne_neurorvq, mne_neurorvq.nn, mne_neurorvq.preprocessing;"
        "bad = [m for m in ('braindecode', 'torchaudio', 'skorch')"
        " if m in sys.modules];"
        "print(bad); sys.exit(bool(bad))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
