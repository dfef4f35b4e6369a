"""The ``timbral`` command line. Thin: argument parsing and messages only.

Each module here registers a group of subcommands; the work happens in the
library (pipelines and models), never in this package.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from typing import List, Optional

from . import (features, models, play, serve, stream, synthesis, training, transcribe,
               transfer)
from ..files import OutputExists
from .common import CommandError

__all__ = ["CommandError", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="timbral", description="Differentiable DSP and timbre transfer in PyTorch.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in (synthesis, features, training, transfer, transcribe, play, models, stream,
                   serve):
        module.register(sub)
    return parser


def _flags(parser: argparse.ArgumentParser, command: str) -> dict:
    """The command's options by destination: ``{"clip_seconds": "--clip-seconds", ...}``."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {a.dest: max(a.option_strings, key=len)
            for a in sub.choices[command]._actions if a.option_strings}


def _in_flags(message: str, flags: dict) -> str:
    """A library message that starts with an argument's name ("clip_seconds: ...",
    "input_device 7: ...") names the command's flag instead ("--clip-seconds: ...")."""
    head, colon, rest = message.partition(":")
    name, space, value = head.partition(" ")
    named = colon and name in flags and not os.path.exists(head)  # not a file of that name
    return f"{flags[name]}{space}{value}:{rest}" if named else message


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    flags = _flags(parser, args.command)
    warnings.formatwarning = lambda message, *_, **__: \
        f"timbral: warning: {_in_flags(str(message), flags)}\n"
    try:
        args.func(args)
    except BrokenPipeError:  # e.g. `timbral models | head`: the reader has gone
        sys.stdout = open(os.devnull, "w")
        return 0
    except OutputExists as exc:  # the library says overwrite=True; here it is a flag
        _say(f"timbral {args.command}: error: {exc.path} already exists; choose another name "
             f"or pass --overwrite")
        return 2
    except (CommandError, ValueError, FileExistsError, OSError) as exc:
        _say(f"timbral {args.command}: error: {_in_flags(str(exc), flags)}")
        return 2
    except KeyboardInterrupt as exc:  # a command may say what was kept and how to go on
        detail = f": {exc}" if str(exc) else ""
        _say(f"timbral {args.command}: interrupted{detail}")
        return 130
    return 0


def _say(line: str) -> None:
    """``line`` on stderr, on a line of its own even under a progress bar still drawn
    (it was glued to the bar's end)."""
    from tqdm.auto import tqdm

    tqdm.write(line, file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
