"""Sphinx configuration of the mne-neurorvq documentation.

Build (warnings are errors, every reference must resolve)::

    sphinx-build -W --keep-going -b html docs docs/_build/html

The gallery (``examples/``) runs at build time on the local PhysioNet
recordings (``MNE_NEURORVQ_DATA``, default ``<repo>/../shared/data``) and the
reference-parity fixture weights (``MNE_NEURORVQ_PARITY``, default
``<repo>/../shared/fixtures/upstream-parity``). Nothing is downloaded. When
either is absent the examples are not run (the pages show their code only);
set ``MNE_NEURORVQ_PLOT_GALLERY=0`` to skip them anyway.
"""

import os
import warnings
from datetime import date
from pathlib import Path

import mne_neurorvq

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
# Defaults for the gallery, visible to the examples through the environment.
os.environ.setdefault("MNE_NEURORVQ_DATA", str(REPO.parent / "shared" / "data"))
os.environ.setdefault(
    "MNE_NEURORVQ_PARITY", str(REPO.parent / "shared" / "fixtures" / "upstream-parity")
)
os.environ.setdefault("MNE_NEURORVQ_NO_PROGRESS", "1")
_MISSING = [
    path
    for path in (
        Path(os.environ["MNE_NEURORVQ_DATA"]) / "eegmat",
        Path(os.environ["MNE_NEURORVQ_DATA"]) / "MNE-eegbci-data",
        Path(os.environ["MNE_NEURORVQ_PARITY"]) / "tokenizer_state_dict.pt",
    )
    if not path.exists()
]
if _MISSING:
    print(f"Gallery examples not run: {', '.join(map(str, _MISSING))} not found.")
# Headless figures. One torch thread: on a small machine shared with other
# jobs, OpenMP threads that wait for a busy core spin, and training in the
# examples ran 10x slower with 2 threads than with 1 (set OMP_NUM_THREADS to
# use more cores).
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("OMP_NUM_THREADS", "1")
warnings.filterwarnings("ignore", message=".*is non-interactive.*")

project = "mne-neurorvq"
author = "mne-neurorvq developers"
copyright = f"{date.today().year}, {author}"
release = mne_neurorvq.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "matplotlib.sphinxext.plot_directive",
]

templates_path = ["_templates"]
exclude_patterns = [
    "_build",
    "auto_examples/*.ipynb",
    "auto_examples/*.py",
    "auto_examples/*.zip",
    "auto_examples/*.json",
    "auto_examples/*.md5",
    "auto_examples/*.codeobj.json",
]
default_role = "py:obj"
root_doc = "index"

# ---------------------------------------------------------------- references
# Offline builds: no intersphinx inventories can be fetched, so references to
# other projects (MNE, scikit-learn, torch, skorch, braindecode, NumPy,
# matplotlib, Python) stay unresolved. They are listed here, by prefix, and
# nothing else: every reference to this package must resolve.
nitpicky = True
_EXTERNAL = (
    r"(mne|sklearn|torch|skorch|braindecode|numpy|np|scipy|matplotlib|pandas"
    r"|pooch|tqdm|os|pathlib|collections|typing|re|dataclasses)(\..*)?"
)
nitpick_ignore_regex = [
    (r"py:.*", _EXTERNAL),
    # Python built-ins named in signatures and docstrings
    (
        r"py:.*",
        r"(int|float|str|bool|bytes|dict|list|tuple|object|callable|type|None"
        r"|ValueError|TypeError|RuntimeError|FileNotFoundError|Exception)",
    ),
    # names of other projects used without their module prefix
    (r"py:.*", r"(Tensor|Module|Path|Mapping|Info|Epochs|EpochsArray|Figure)"),
]

# ---------------------------------------------------------------- autodoc
autosummary_generate = True
autodoc_default_options = {"members": True, "member-order": "bysource"}
autodoc_typehints = "none"  # the numpydoc sections give the types
autodoc_inherit_docstrings = False
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_attributes_as_param_list = True

# ---------------------------------------------------------------- figures
plot_include_source = True
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 100)]
plot_rcparams = {"figure.autolayout": False, "savefig.bbox": "tight"}
plot_pre_code = "import numpy as np\nimport matplotlib.pyplot as plt\n"

# ---------------------------------------------------------------- HTML
html_theme = "pydata_sphinx_theme"
html_title = "mne-neurorvq"
html_static_path = []  # nothing to add to the theme
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc", "sourcelink"],
}
html_sidebars = {"install": [], "user_guide": []}
html_show_sourcelink = False

# ---------------------------------------------------------------- gallery
sphinx_gallery_conf = {
    "examples_dirs": ["../examples"],
    "gallery_dirs": ["auto_examples"],
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "doc_module": ("mne_neurorvq",),
    "backreferences_dir": "generated/backreferences",
    "reference_url": {"mne_neurorvq": None},
    "min_reported_time": 1.0,
    "abort_on_example_error": True,
    "remove_config_comments": True,
    "show_memory": False,
    "download_all_examples": False,
    "plot_gallery": os.environ.get(
        "MNE_NEURORVQ_PLOT_GALLERY", "False" if _MISSING else "True"
    ),
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "capture_repr": (),  # show printed output only, not the last expression
}


# ---------------------------------------------------------------- hooks
#: The class whose members autodoc is filtering (set when its docstring is read).
_CURRENT_CLASS = {"obj": None}


def _remember_class(app, what, name, obj, options, lines):
    if what in ("class", "exception"):
        _CURRENT_CLASS["obj"] = obj


def _defining_class(cls, name):
    """First class of the MRO of ``cls`` that defines or annotates ``name``."""
    for klass in getattr(cls, "__mro__", ()):
        if name in vars(klass) or name in getattr(klass, "__annotations__", {}):
            return klass
    return None


def _attributes_section(cls) -> set:
    """Names listed in the numpydoc Attributes section of ``cls``."""
    import inspect

    from numpydoc.docscrape import NumpyDocString

    try:
        section = NumpyDocString(inspect.getdoc(cls) or "")["Attributes"]
    except Exception:  # a malformed docstring is reported elsewhere
        return set()
    return {part.strip() for item in section for part in item.name.split(",")}


def _skip_foreign_member(app, what, name, obj, skip, options):
    """Document only members defined in this package.

    Classes are documented with their inherited members (the estimators get
    ``fit`` and ``fit_transform`` from a private base class, the
    configurations their shared fields), but not with what they inherit from
    torch, scikit-learn, skorch or Python: those are documented by their
    projects. Attributes already described in the class's numpydoc
    Attributes section are not listed a second time.
    """
    if skip or what not in ("class", "exception"):
        return None
    parent = _CURRENT_CLASS["obj"]
    target = obj.fget if isinstance(obj, property) else obj
    target = getattr(target, "__func__", target)  # classmethod, staticmethod
    if callable(target) or isinstance(obj, property):
        module = getattr(target, "__module__", None)
    else:
        owner = _defining_class(parent, name)
        module = getattr(owner, "__module__", None)
    if not str(module).startswith("mne_neurorvq"):
        return True
    if not callable(target) and parent is not None:
        if name in _attributes_section(parent):
            return True
    return None


def _resolve_own_reference(app, env, node, contnode):
    """Resolve references to this package's objects by their unique suffix.

    Docstrings name objects as they are imported (``mne_neurorvq.fetch_weights``,
    ``TokenizerConfig`` inside ``mne_neurorvq.nn.checkpoints``), while the
    documentation places each object in one module. A reference that matches
    exactly one documented object of this package is linked to it; anything
    else stays unresolved (and fails the nitpicky build).
    """
    from sphinx.util.nodes import make_refnode

    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"].lstrip("~.")
    if target.startswith("mne_neurorvq."):
        suffix = "." + target.rsplit(".", 1)[-1]
    elif target and not target.startswith("_"):
        suffix = "." + target
    else:
        return None
    domain = env.get_domain("py")
    want_module = node.get("reftype") == "mod"
    matches = [
        full
        for full, entry in domain.objects.items()
        if full.startswith("mne_neurorvq.")
        and full.endswith(suffix)
        and not entry.aliased  # canonical-name duplicates
        and (entry.objtype == "module") == want_module
    ]
    if len(matches) != 1:
        return None
    entry = domain.objects[matches[0]]
    return make_refnode(
        app.builder, node["refdoc"], entry.docname, entry.node_id, contnode, matches[0]
    )


def setup(app):
    app.connect("autodoc-process-docstring", _remember_class)
    app.connect("autodoc-skip-member", _skip_foreign_member)
    app.connect("missing-reference", _resolve_own_reference)
