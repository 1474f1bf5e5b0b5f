"""``python -m demo``: the same as ``moss-agent demo`` (see ``demo.app``)."""

import sys

from demo.app import main

sys.exit(main())
