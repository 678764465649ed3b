"""The exactness checks once more on the AVX2 kernels (CPUs without AVX-512).

Tokens are the codes of smallest exact distance, a rule that depends neither
on the batch nor on the CPU; other outputs agree within float32 rounding. On
a CPU without AVX-512 (AMD EPYC before Zen 4, older Xeons) torch, oneDNN and
MKL take other kernels, which sum in another order. The kernels are chosen
when torch starts, so these tests run the exactness tests and the
``parity`` command in a new process limited to AVX2, as such a CPU would be.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: Environment of a process limited to the AVX2 kernels.
AVX2 = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",
}
#: The tests whose results must not depend on the CPU: the modules against
#: the reference outputs, and batch invariance of the estimators. The
#: reference parity itself runs as the ``parity`` command below
#: (tests/test_parity.py runs the same check, and the detection of perturbed
#: weights, which does not depend on the CPU).
EXACTNESS_TESTS = (
    "tests/nn",
    "tests/decoding/test_tokenizer.py::test_long_epochs_are_split_into_windows_not_cropped",
    "tests/decoding/test_base.py::test_epochs_list_and_array_give_the_same_output",
)


def _run_avx2(*args, timeout=840):
    return subprocess.run(
        [sys.executable, *args],
        cwd=REPO,
        env={**os.environ, **AVX2},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _tail(result, n=3000) -> str:
    return (result.stdout + result.stderr)[-n:]


def test_the_subprocess_runs_on_avx2_kernels():
    result = _run_avx2(
        "-c", "import torch; print(torch.backends.cpu.get_cpu_capability())"
    )
    assert result.returncode == 0, _tail(result)
    assert result.stdout.strip() == "AVX2"


@pytest.mark.slow
def test_exactness_tests_pass_on_avx2(parity_path):
    result = _run_avx2(
        "-m", "pytest", "-q", "-p", "no:cacheprovider",
        *EXACTNESS_TESTS,
    )  # fmt: skip
    assert result.returncode == 0, _tail(result)
    assert " passed" in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("fixture", ["parity_path", "parity_multimodal_path"])
def test_parity_command_passes_on_avx2(fixture, request):
    directory = request.getfixturevalue(fixture)
    result = _run_avx2("-m", "mne_neurorvq.parity", str(directory))
    assert result.returncode == 0, _tail(result)
