"""Sphinx configuration of the mne-neurorvq documentation.

Build (warnings are errors, every reference must resolve)::

    sphinx-build -W --keep-going -b html docs docs/_build/html

The gallery (``examples/``) runs at build time. Its examples read the
PhysioNet recordings through the package's dataset functions: from the
folder in ``MNE_NEURORVQ_DATA`` (default: a ``shared/data`` folder beside
the repository, when there is one) or downloaded into MNE's data folder.
``MNE_NEURORVQ_PLOT_GALLERY=0`` shows the examples' code without running
them (the default when the local data are absent and there is no network).

Links to other projects' documentation (intersphinx) are made when their
inventories can be reached; offline (``MNE_NEURORVQ_INTERSPHINX=0``, or no
network) the references stay plain text and the ``-W`` build still passes.
"""

import os
import socket
import warnings
from datetime import date
from pathlib import Path

import mne_neurorvq

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
# Local recordings for the gallery, visible to the examples through the
# environment: a development checkout has them beside the repository.
_LOCAL_DATA = REPO.parent / "shared" / "data"
if _LOCAL_DATA.is_dir():
    os.environ.setdefault("MNE_NEURORVQ_DATA", str(_LOCAL_DATA))
os.environ.setdefault("MNE_NEURORVQ_NO_PROGRESS", "1")


def _reachable(url: str, timeout: float = 3.0) -> bool:
    """Whether the host of ``url`` accepts a connection (no request made)."""
    host = url.split("/")[2]
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
    except OSError:
        return False
    return True


_DATA = os.environ.get("MNE_NEURORVQ_DATA")
_HAVE_DATA = bool(_DATA) and (Path(_DATA) / "eegmat").is_dir()
_ONLINE = _reachable("https://physionet.org/")
if not (_HAVE_DATA or _ONLINE):
    print("Gallery examples not run: no local data (MNE_NEURORVQ_DATA), no network.")
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
    "sphinx.ext.intersphinx",
    "sphinx_copybutton",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "matplotlib.sphinxext.plot_directive",
]

templates_path = ["_templates"]
exclude_patterns = [
    "_build",
    "auto_examples/**.ipynb",
    "auto_examples/**.py",
    "auto_examples/**.zip",
    "auto_examples/**.json",
    "auto_examples/**.md5",
    "auto_examples/**.codeobj.json",
]
default_role = "py:obj"
root_doc = "index"

# ---------------------------------------------------------------- references
# Other projects' documentation, linked where its inventory can be reached.
# Sphinx warns (and -W fails) when an inventory cannot be fetched, so an
# offline build leaves the mapping empty. MNE_NEURORVQ_INTERSPHINX=0 forces
# that; =1 skips the connection check.
_INVENTORIES = {
    "python": "https://docs.python.org/3/",
    "mne": "https://mne.tools/stable/",
    "sklearn": "https://scikit-learn.org/stable/",
    "numpy": "https://numpy.org/doc/stable/",
    "scipy": "https://docs.scipy.org/doc/scipy/",
    "torch": "https://docs.pytorch.org/docs/stable/",
    "braindecode": "https://braindecode.org/stable/",
    "matplotlib": "https://matplotlib.org/stable/",
}
_INTERSPHINX = os.environ.get("MNE_NEURORVQ_INTERSPHINX", "auto")
intersphinx_mapping = {
    name: (url, None)
    for name, url in _INVENTORIES.items()
    if _INTERSPHINX == "1" or (_INTERSPHINX == "auto" and _reachable(url))
}
if len(intersphinx_mapping) < len(_INVENTORIES):
    print(
        "intersphinx: no links to "
        + ", ".join(sorted(set(_INVENTORIES) - set(intersphinx_mapping)))
        + " (inventory not reachable)"
    )
intersphinx_timeout = 10

# References to other projects that intersphinx did not resolve (offline
# builds, or names those projects do not document) stay plain text. They
# are listed here, by prefix, and nothing else: every reference to this
# package must resolve.
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
plot_formats = [("png", 100), ("hires.png", 200)]
plot_rcparams = {"figure.autolayout": False, "savefig.bbox": "tight"}
plot_pre_code = "import numpy as np\nimport matplotlib.pyplot as plt\n"

# ---------------------------------------------------------------- HTML
html_theme = "pydata_sphinx_theme"
html_title = "mne-neurorvq"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
REPOSITORY = "https://github.com/mne-tools/mne-neurorvq"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc", "sourcelink"],
    "navbar_start": ["navbar-logo", "version"],
    "header_links_before_dropdown": 7,
    "navbar_persistent": ["search-button"],  # an icon: the links fit one row
    "icon_links": [
        {
            "name": "Source code on GitHub",
            "url": REPOSITORY,
            "icon": "fa-brands fa-github",
            "type": "fontawesome",
        }
    ],
    "icon_links_label": "Links",
}
html_sidebars = {
    "index": [],
    "getting_started": [],
    "install": [],
    "whats_new": [],
    "cite": [],
}
html_context = {"default_mode": "light"}
html_show_sourcelink = False

# ---------------------------------------------------------------- gallery
sphinx_gallery_conf = {
    "examples_dirs": ["../examples"],
    "gallery_dirs": ["auto_examples"],
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "subsection_order": [
        "../examples/getting_started",
        "../examples/decoding",
        "../examples/tokens",
        "../examples/modalities",
        "../examples/training",
    ],
    "image_srcset": ["2x"],
    "doc_module": ("mne_neurorvq",),
    "backreferences_dir": "generated/backreferences",
    "min_reported_time": 1.0,
    "abort_on_example_error": True,
    "remove_config_comments": True,
    "show_memory": False,
    "download_all_examples": False,
    "plot_gallery": os.environ.get(
        "MNE_NEURORVQ_PLOT_GALLERY", "True" if _HAVE_DATA or _ONLINE else "False"
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


def _data_comment(app, what, name, obj, options, lines):
    """Give a constant its ``#:`` comment instead of its type's docstring.

    A constant re-exported by a package (``training.CHECKPOINT_NAME``, a
    ``str``) has no docstring of its own, so autodoc shows ``str``'s; its
    ``#:`` comment is in the submodule that defines it.
    """
    import importlib
    import pkgutil

    from sphinx.pycode import ModuleAnalyzer

    type_doc = (type(obj).__doc__ or "").strip()
    if what not in ("data", "attribute") or not type_doc or not lines:
        return
    if type_doc.splitlines()[0].strip() not in "\n".join(lines):
        return
    package_name, attr = name.rsplit(".", 1)
    package = importlib.import_module(package_name)
    modules = [package_name] + [
        info.name
        for info in pkgutil.iter_modules(
            getattr(package, "__path__", []), package_name + "."
        )
    ]
    for module in modules:
        try:
            docs = ModuleAnalyzer.for_module(module).find_attr_docs()
        except Exception:  # a module without source
            continue
        if ("", attr) in docs:
            lines[:] = list(docs[("", attr)])
            return
    lines[:] = []


def _fix_viewcode_backlinks(app, pagename, templatename, context, doctree):
    """Point the "[docs]" links of source pages at the documented objects.

    viewcode builds every link of a module's source page from the module
    path under which the module's first object was documented: objects
    re-exported by a package (``mne_neurorvq.nn.ResidualVQ``) and objects
    documented in their own module (``mne_neurorvq.nn.quantizer.EMACodebook``)
    then share one prefix, and the second kind get anchors that do not
    exist. The anchor is replaced by the one object of the target page whose
    name ends the same way.
    """
    import posixpath
    import re

    if not pagename.startswith("_modules/") or "body" not in context:
        return
    objects = app.env.get_domain("py").objects

    def fix(match):
        href, anchor = match.group(1), match.group(2)
        if anchor in objects:
            return match.group(0)
        page = posixpath.normpath(posixpath.join(posixpath.dirname(pagename), href))
        docname = page.removesuffix(".html")
        parts = anchor.split(".")
        for start in range(1, len(parts)):
            tail = "." + ".".join(parts[start:])
            found = [
                full
                for full, entry in objects.items()
                if entry.docname == docname and full.endswith(tail)
            ]
            if len(found) == 1:
                return f'href="{href}#{found[0]}"'
        return match.group(0)

    context["body"] = re.sub(r'href="([^"#]+\.html)#([^"]+)"', fix, context["body"])


def setup(app):
    app.connect("html-page-context", _fix_viewcode_backlinks)
    app.connect("autodoc-process-docstring", _remember_class)
    # before numpydoc reformats the docstring
    app.connect("autodoc-process-docstring", _data_comment, priority=100)
    app.connect("autodoc-skip-member", _skip_foreign_member)
    app.connect("missing-reference", _resolve_own_reference)
