"""`python -m device.evals.dialogue` runs the eval."""

import sys

from device.evals.dialogue import main

sys.exit(main())
