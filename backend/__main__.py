"""Entry point for ``python -m backend``."""

import sys

from backend.cli import main

if __name__ == "__main__":  # a local process pool's workers import this module again (spawn): they must not run
    sys.exit(main())
