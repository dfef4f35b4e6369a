"""`timbral serve`: the timbre-transfer web app on this computer (needs the `web` extra)."""

from __future__ import annotations

import argparse

from .common import CommandError

DESCRIPTION = (
    "Run the timbre-transfer web app and print the address to open in a browser: record or "
    "upload audio, pick a shipped model or upload a model zip, set the notebook's controls, "
    "listen, look at the plots and download the result. Listens on 127.0.0.1 (this computer "
    "only) unless --host says otherwise; makes no network requests of its own. "
    "See docs/web.md.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..app.limits import DEFAULTS

    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this computer only; "
                             "0.0.0.0 opens the app to the network)")
    parser.add_argument("--port", type=int, default=8000,
                        help="port (default 8000; 0 picks a free one)")
    parser.add_argument("--model", action="append", default=[], metavar="PATH",
                        help="also offer this model folder or zip (repeatable)")
    parser.add_argument("--max-upload-mb", type=float, default=DEFAULTS["max_upload_mb"],
                        help="largest audio upload in MB (default %(default)g)")
    parser.add_argument("--max-model-mb", type=float, default=DEFAULTS["max_model_mb"],
                        help="largest model zip upload in MB (default %(default)g)")
    parser.add_argument("--max-seconds", type=float, default=DEFAULTS["max_seconds"],
                        help="longest audio accepted, in seconds (default %(default)g)")
    parser.add_argument("--jobs", type=int, default=DEFAULTS["jobs"],
                        help="transfers computed at once (default %(default)d)")
    parser.add_argument("--max-queue", type=int, default=DEFAULTS["max_queue"],
                        help="transfers allowed to wait beyond those (default %(default)d)")
    parser.add_argument("--session-minutes", type=float, default=DEFAULTS["session_minutes"],
                        help="delete a page's files after this long idle (default %(default)g)")
    parser.add_argument("--max-sessions", type=int, default=DEFAULTS["max_sessions"],
                        help="pages served at once; the longest idle is dropped beyond "
                             "(default %(default)d)")


def run(args: argparse.Namespace) -> None:
    if not 0 <= args.port <= 65535:
        raise CommandError(f"--port {args.port}: expected 0 to 65535")
    try:
        from ..app import Limits, serve
    except ImportError as exc:
        raise CommandError(f"the web app needs the 'web' extra ({exc.name} is missing): "
                           f"pip install 'timbral[web]'") from None
    limits = Limits(max_upload_mb=args.max_upload_mb, max_model_mb=args.max_model_mb,
                    max_seconds=args.max_seconds, jobs=args.jobs, max_queue=args.max_queue,
                    session_minutes=args.session_minutes, max_sessions=args.max_sessions)
    try:
        serve(args.host, args.port, models=args.model, limits=limits,
              announce=lambda line: print(line, flush=True))
    except KeyboardInterrupt:  # Ctrl+C is how the server is meant to stop
        pass
    print("timbral serve: stopped; its temporary files are deleted", flush=True)


def register(sub) -> None:
    parser = sub.add_parser("serve", help="run the timbre-transfer web app in a browser",
                            description=DESCRIPTION)
    add_arguments(parser)
    parser.set_defaults(func=run)
