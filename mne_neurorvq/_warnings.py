"""Warnings that point at the user's line.

Every warning of the package goes through :func:`warn`, which walks the stack
out of this package, MNE, scikit-learn and joblib (whose frames sit between
the user and the estimators: ``set_output``'s wrapper, pipelines,
cross-validation), so ``warnings`` reports the file and line of the call the
user wrote. It is MNE's :func:`mne.utils.warn` with those namespaces.
"""

from __future__ import annotations

import sys

from mne.utils import warn as _mne_warn

#: Packages whose frames are never the user's (imported already by then).
WARN_FROM = ("mne", "mne_neurorvq", "sklearn", "joblib")
#: Packages skipped too when they are imported (the classifier's stack).
_IF_IMPORTED = ("skorch", "braindecode", "torch")


def warn(message: str, category=RuntimeWarning) -> None:
    """Emit ``message`` as a warning attributed to the user's calling line.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn("look here")
    >>> str(caught[0].message)
    'look here'
    """
    extra = tuple(name for name in _IF_IMPORTED if name in sys.modules)
    _mne_warn(message, category, ignore_namespaces=WARN_FROM + extra)
