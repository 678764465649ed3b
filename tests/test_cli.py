import os
import subprocess
import sys

import pytest

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


def test_errors_are_one_line_on_stderr_with_exit_status_1(tmp_path, capsys):
    missing = str(tmp_path / "missing.pt")
    assert main(["inspect", missing]) == 1
    err = capsys.readouterr().err
    assert err.startswith("mne-neurorvq: error: No checkpoint file at ")
    assert err.count("\n") == 1 and "Traceback" not in err
    with pytest.raises(FileNotFoundError, match="No checkpoint file"):
        main(["inspect", missing, "--debug"])


def test_debug_variable_shows_the_traceback(tmp_path):
    """``python -m mne_neurorvq`` runs the command line; the variable lets
    the exception through."""
    command = [sys.executable, "-m", "mne_neurorvq", "inspect", str(tmp_path / "x")]
    quiet = subprocess.run(command, capture_output=True, text=True)
    assert quiet.returncode == 1
    assert quiet.stderr.startswith("mne-neurorvq: error: No checkpoint file")
    env = {**os.environ, "MNE_NEURORVQ_DEBUG": "1"}
    loud = subprocess.run(command, capture_output=True, text=True, env=env)
    assert loud.returncode == 1
    assert "Traceback" in loud.stderr and "FileNotFoundError" in loud.stderr
