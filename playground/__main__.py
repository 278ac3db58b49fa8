"""``python -m playground``: the command line (see :mod:`playground.cli.main`)."""

import sys

from playground.cli.main import main

sys.exit(main())
