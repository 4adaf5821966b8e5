"""``python -m vrkit`` is the ``vrkit`` command."""

import sys

from vrkit.cli import main

sys.exit(main())
