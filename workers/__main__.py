"""`python -m workers`: run the journey worker against the configured Temporal server."""

from config.process_exit import exit_without_finalizing
from workers.worker import main

if __name__ == "__main__":
    exit_without_finalizing(main())
