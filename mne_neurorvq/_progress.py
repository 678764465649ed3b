"""Quiet MNE calls and one progress bar, for the loaders and the estimators."""

from __future__ import annotations

import logging

from mne.utils import logger
from mne.utils._logging import _parse_verbose
from tqdm.auto import tqdm


def quiet(verbose):
    """Level of the MNE calls on every recording or batch: warnings unless asked.

    ``verbose=None`` gives ``"WARNING"`` (reading hundreds of files would
    print hundreds of lines at MNE's default info level); any other value
    is passed on as given.

    Examples
    --------
    >>> quiet(None), quiet("info"), quiet(False)
    ('WARNING', 'info', False)
    """
    return "WARNING" if verbose is None else verbose


def progress(items, description: str, verbose, file=None):
    """Iterate over ``items`` with one tqdm progress bar.

    The bar is shown when there is more than one item and ``verbose``
    (MNE's global level when None) is info or more verbose: with
    ``verbose=None`` only on a terminal, with an explicit level anywhere;
    ``verbose=False`` or ``"WARNING"`` hide it. ``file`` is where it is
    drawn (default: standard error).

    Examples
    --------
    >>> list(progress([1, 2, 3], "reading", verbose=False))
    [1, 2, 3]
    """
    items = list(items)
    level = logger.level if verbose is None else _parse_verbose(verbose)
    hidden = level > logging.INFO or len(items) < 2
    # disable=None: tqdm hides itself when the output is not a terminal
    disable = True if hidden else (None if verbose is None else False)
    return tqdm(items, desc=description, disable=disable, file=file)
