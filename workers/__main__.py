"""`python -m workers`: run the journey worker against the configured Temporal server."""

import sys

from workers.worker import main

if __name__ == "__main__":
    sys.exit(main())
