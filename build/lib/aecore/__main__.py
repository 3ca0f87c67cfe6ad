"""``python -m aecore``: run a chapter's experiments from the command line (see ``aecore.cli``)."""

import sys

from aecore.cli import main

if __name__ == "__main__":
    sys.exit(main())
