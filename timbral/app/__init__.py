"""The local web app behind ``timbral serve``: timbre transfer in a browser.

A small Starlette application served by uvicorn, with its page (HTML, CSS and
JavaScript, no outside assets) in the package's ``static`` folder. It is a thin
layer over the library: audio is decoded by :func:`timbral.audio.load_audio`,
models come from :func:`timbral.zoo.load_model` (uploaded zips are first
checked against the server's limits from their table of contents and config,
then by :func:`timbral.files.safe_extract_zip`; nothing unpickled), the
controls are checked by :func:`timbral.transfer.controls.from_json`, and the
work (transfer, result, pictures) is :func:`timbral.transfer.files.transfer_file`,
the same function as ``timbral transfer``'s.

The server needs the ``web`` extra (``pip install 'timbral[web]'``); its names
load on first use, so :mod:`timbral.app.limits` imports without it. Neither
Starlette nor uvicorn makes any network request of its own, and the page loads
nothing from other sites (its Content-Security-Policy forbids it).
"""

import importlib

from .limits import DEFAULTS, Limits

_SERVER = ("ModelStore", "create_app", "serve")


def __getattr__(name: str):
    if name in _SERVER:
        return getattr(importlib.import_module("timbral.app.server"), name)
    raise AttributeError(f"module 'timbral.app' has no attribute {name!r}")


__all__ = ["DEFAULTS", "Limits", *_SERVER]
