"""`python -m ganforge.cli ARGS`: the `ganforge` command."""
import sys

from . import main

sys.exit(main())
