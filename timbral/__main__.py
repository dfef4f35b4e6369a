"""``python -m timbral`` (and ``torchrun -m timbral train ...``) runs the command line;
the ``timbral`` console script calls :func:`main` here."""

import sys


def main() -> int:
    """The command line, with Ctrl-C during its first seconds (importing torch) said
    in one line like Ctrl-C later."""
    try:
        from .cli import main as run
    except KeyboardInterrupt:
        print("timbral: interrupted", file=sys.stderr)
        return 130
    return run()


if __name__ == "__main__":
    sys.exit(main())
