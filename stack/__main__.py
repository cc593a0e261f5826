"""`python -m stack` (`make run`): the embedded stack until Ctrl-C or SIGTERM."""

from config.process_exit import exit_without_finalizing
from stack.run import main

if __name__ == "__main__":
    exit_without_finalizing(main())
