"""`python -m device` is `os1`."""

import sys

from device.cli import main

sys.exit(main())
