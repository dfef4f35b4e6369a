"""Magenta's ``ddsp.effects``: the classes live in :mod:`timbral.processors.effects`."""

from .processors.effects import *  # noqa: F401,F403
from .processors.effects import __all__  # noqa: F401
