"""Shared pieces of the command line."""

from __future__ import annotations


class CommandError(Exception):
    """A user-facing error: printed as one line, exit status 2."""
