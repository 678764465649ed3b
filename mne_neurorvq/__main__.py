"""``python -m mne_neurorvq ...``: the command line (also under ``torchrun -m``)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
