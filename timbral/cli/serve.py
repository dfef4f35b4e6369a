"""`timbral serve`: the timbre-transfer web app on this computer (needs the `web` extra)."""

from __future__ import annotations

from ..app.options import DESCRIPTION, add_arguments, run


def register(sub) -> None:
    parser = sub.add_parser("serve", help="run the timbre-transfer web app in a browser",
                            description=DESCRIPTION)
    add_arguments(parser)
    parser.set_defaults(func=run)
