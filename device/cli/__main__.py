"""`python -m device.cli` is `os1` too (the tests run it so)."""

import sys

from device.cli import main

sys.exit(main())
