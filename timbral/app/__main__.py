"""``python -m timbral.app``: the same as ``timbral serve`` (same options)."""

import argparse
import sys

from .options import DESCRIPTION, add_arguments, run


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="timbral serve", description=DESCRIPTION)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        run(args)
    except (ValueError, OSError) as exc:
        print(f"timbral serve: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
