"""The web app's options and entry point, shared by ``timbral serve`` and
``python -m timbral.app``.

(The options of playing a MIDI file in the page are ``timbral play``'s, from
their one table, :mod:`timbral.midi.controls`.)
"""

from __future__ import annotations

import argparse

from ..options import add_device_option
from .limits import DEFAULTS, Limits, add_limit_arguments

DESCRIPTION = (
    "Run the timbre-transfer web app and print the address to open in a browser: record or "
    "upload audio (or a MIDI file to play), pick a shipped model or upload a model zip, set "
    "the notebook's controls, listen, look at the plots and download the result. Listens on "
    "127.0.0.1 (this computer only) unless --host says otherwise; makes no network requests "
    "of its own. "
    "See docs/web.md.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The server's options (``timbral serve`` and ``python -m timbral.app``)."""
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this computer only; "
                             "0.0.0.0 opens the app to the network)")
    parser.add_argument("--port", type=int, default=8000,
                        help="port (default 8000; 0 picks a free one)")
    parser.add_argument("--model", action="append", default=[], metavar="PATH",
                        help="also offer this model folder or zip (repeatable)")
    add_limit_arguments(parser)
    add_device_option(parser, "the models and the pitch tracker run")


def run(args: argparse.Namespace) -> None:
    """Serve until Ctrl+C; bad options raise a one-line ValueError."""
    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port {args.port}: expected 0 to 65535")
    try:
        from .server import serve
    except ImportError as exc:
        raise ValueError(f"the web app needs the 'web' extra ({exc.name} is missing): "
                           f"pip install 'timbral[web]'") from None
    limits = Limits(**{name: getattr(args, name) for name in DEFAULTS})  # a flag per limit
    try:
        serve(args.host, args.port, models=args.model, limits=limits,
              announce=lambda line: print(line, flush=True), device=args.device)
    except KeyboardInterrupt:  # Ctrl+C is how the server is meant to stop
        pass
    print("timbral serve: stopped; its temporary files are deleted", flush=True)

