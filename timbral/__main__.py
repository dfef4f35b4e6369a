"""``python -m timbral`` (and ``torchrun -m timbral train ...``) runs the command line."""

import sys

from .cli import main

sys.exit(main())
