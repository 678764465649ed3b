"""The API reference lists the public API, and every entry shows an example.

These tests read the API reference (``docs/api.rst`` and its pages,
``docs/api/*.rst``); they do not build the documentation
(``sphinx-build -W --keep-going -b html docs docs/_build/html`` does).
"""

from __future__ import annotations

import importlib
import inspect
import re
import warnings
from pathlib import Path

import pytest

API_RST = Path(__file__).resolve().parents[1] / "docs" / "api.rst"


def _api_text() -> str:
    """The API reference: its index page and one page per module."""
    pages = [API_RST, *sorted((API_RST.parent / "api").glob("*.rst"))]
    return "\n".join(page.read_text() for page in pages)


#: Modules whose ``__all__`` must be documented in full.
MODULES_WITH_ALL = (
    "mne_neurorvq",
    "mne_neurorvq.decoding",
    "mne_neurorvq.nn",
    "mne_neurorvq.datasets",
    "mne_neurorvq.channels",
    "mne_neurorvq.preprocessing",
    "mne_neurorvq.training",
    "mne_neurorvq.benchmark",
    "mne_neurorvq.corpus",
    "mne_neurorvq.modalities",
)


def _documented() -> list[str]:
    """Fully qualified names of the autosummary entries of ``api.rst``."""
    if not API_RST.is_file():
        pytest.skip(f"{API_RST} not found (not a source checkout)")
    names, module, in_autosummary = [], None, False
    for line in _api_text().splitlines():
        if match := re.match(r"\.\. currentmodule:: (\S+)", line):
            module = match.group(1)
        if line.startswith(".. "):
            in_autosummary = line.startswith(".. autosummary::")
            continue
        if in_autosummary and (entry := re.fullmatch(r"   ([A-Za-z_][\w.]*)", line)):
            names.append(f"{module}.{entry.group(1)}")
        elif line and not line.startswith(" "):
            in_autosummary = False
    return names


def _resolve(fullname: str):
    """Import ``fullname`` (module path, then attributes).

    Warnings raised by third-party imports (braindecode, for the classifier)
    are not what these tests check, so they are silenced here.
    """
    parts = fullname.split(".")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for cut in range(len(parts), 0, -1):
            try:
                obj = importlib.import_module(".".join(parts[:cut]))
            except ImportError:
                continue
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
            return obj
    raise ImportError(fullname)


def test_api_rst_parses():
    names = _documented()
    assert len(names) > 50
    assert len(names) == len(set(names)), "an object is listed twice in api.rst"


@pytest.mark.parametrize("module_name", MODULES_WITH_ALL)
def test_all_names_in_api_rst(module_name):
    """Every name in ``__all__`` is documented (top-level names by their home)."""
    module = importlib.import_module(module_name)
    documented = {name.rsplit(".", 1)[-1] for name in _documented()}
    text = _api_text()
    missing = [
        name
        for name in module.__all__
        if name not in documented
        and not (name.startswith("__") and f"{module_name}.{name}" in text)
    ]
    assert not missing, f"{module_name}.__all__ names missing from api.rst: {missing}"


@pytest.mark.parametrize("fullname", _documented() if API_RST.is_file() else [])
def test_documented_objects_import(fullname):
    _resolve(fullname)


def _callables():
    return [
        name
        for name in (_documented() if API_RST.is_file() else [])
        if callable(_resolve(name))
    ]


@pytest.mark.parametrize("fullname", _callables())
def test_docstring_has_examples(fullname):
    """Each documented class and function has a numpydoc Examples section."""
    doc = inspect.getdoc(_resolve(fullname)) or ""
    assert re.search(r"^Examples\n-{8}", doc, re.MULTILINE), (
        f"{fullname}: no 'Examples' section in its docstring"
    )
