"""Magenta's ``ddsp.synths``: the classes live in :mod:`timbral.processors.synths`."""

from .processors.synths import *  # noqa: F401,F403
from .processors.synths import __all__  # noqa: F401
