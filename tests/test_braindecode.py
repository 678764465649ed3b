import sys

import pytest

from mne_neurorvq._braindecode import (
    import_braindecode,
    load_failure,
    pair_problem,
    release,
)


@pytest.mark.parametrize(
    ("torch_version", "torchaudio_version"),
    [("2.11.0", "2.11.0"), ("2.11.0+cu130", "2.11.0+cpu"), ("2.3.1", "2.3.1")],
)
def test_a_matching_pair_is_accepted(torch_version, torchaudio_version):
    assert pair_problem(torch_version, torchaudio_version) is None


def test_an_older_torchaudio_gets_both_commands():
    message = pair_problem("2.11.0+cu130", "2.10.0")
    assert 'pip install "torchaudio==2.11.0"' in message
    assert 'or the torch of your torchaudio: pip install "torch==2.10.0"' in message
    assert "torchaudio 2.10.0 only loads beside torch 2.10" in message
    assert "installed torch 2.11.0+cu130" in message


def test_an_older_torch_gets_its_torchaudio():
    message = pair_problem("2.9.1", "2.11.0")
    assert 'pip install "torchaudio==2.9.1"' in message
    assert 'pip install "torch==2.11.0"' in message
    # torchaudio 2.11.1 pairs with no torch release of its number
    assert "pip install \"torch==" not in pair_problem("2.9.1", "2.11.1")


def test_an_unsupported_torch_is_not_suggested():
    """A torchaudio older than the oldest supported torch: only torchaudio."""
    message = pair_problem("2.11.0", "2.1.2")
    assert 'pip install "torchaudio==2.11.0"' in message
    assert "torch==2.1" not in message


def test_a_missing_torchaudio_gets_the_install_command():
    message = pair_problem("2.10.0+cpu", None)
    assert "not installed" in message and 'pip install "torchaudio==2.10.0"' in message


def test_a_torchaudio_that_fails_to_load_gets_the_torch_release():
    """torchaudio 2.11.1 beside torch 2.11.0: same number, no load."""
    assert pair_problem("2.11.0", "2.11.1") is None
    error = "undefined symbol: torch_exception_get_what_without_backtrace"
    message = load_failure("2.11.0", "2.11.1", error)
    assert error in message and 'pip install "torchaudio==2.11.0"' in message


def test_version_strings():
    assert release("2.11.0a0+git1234") == (2, 11, 0)
    with pytest.raises(ValueError, match="Not a version string"):
        release("nightly")


@pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning")
def test_this_environment_imports_braindecode():
    """braindecode's own import-time warnings (pandas, montage) are not ours."""
    braindecode = import_braindecode()
    assert braindecode is sys.modules["braindecode"]
    assert "torchaudio" in sys.modules
