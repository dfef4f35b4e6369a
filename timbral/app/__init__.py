"""The local web app behind ``timbral serve``: timbre transfer in a browser.

A small Starlette application served by uvicorn, with its page (HTML, CSS and
JavaScript, no outside assets) in :mod:`timbral.app.page`. It is a thin layer
over the library: audio is decoded by :func:`timbral.audio.load_audio`, models
come from :func:`timbral.zoo.load_model` (zips checked by
:func:`timbral.files.safe_extract_zip`, nothing unpickled), the work is
:func:`timbral.transfer.transfer`, and the pictures are
:func:`timbral.plots.plot_transfer` and :func:`timbral.plots.plot_spectrograms`.

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
