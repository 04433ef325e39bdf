"""``python -m rl_distill.cli``."""

import sys

from rl_distill.cli.main import main

sys.exit(main())
