"""``python -m harness``: the same command line as ``harness`` (e.g. under ``torchrun -m harness``)."""

import sys

from harness.cli import main

sys.exit(main())
