"""`python -m ganforge …`: the same command line as the `ganforge` script."""
import sys

from ganforge.cli import main

if __name__ == "__main__":
    sys.exit(main())
