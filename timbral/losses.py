"""Magenta's ``ddsp.losses``: the classes live in :mod:`timbral.processors.losses`."""

from .processors.losses import *  # noqa: F401,F403
from .processors.losses import __all__  # noqa: F401
