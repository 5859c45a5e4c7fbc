"""``python -m colorize``: the same as the ``colorize`` command."""
from colorize.cli import main

if __name__ == "__main__":
    main(prog_name="colorize")
