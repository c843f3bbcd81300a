"""``python -m rtxcourse ...`` is the same as the ``rtxcourse`` command."""

import sys

from rtxcourse.cli import main

sys.exit(main())
