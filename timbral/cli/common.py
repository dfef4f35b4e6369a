"""Shared pieces of the command line."""

from __future__ import annotations

# The transfer controls' options (`transfer`, `stream`, `live`) and the checked keyword
# arguments of transfer() / StreamProcessor they give: one table, timbral.transfer.controls.
from ..transfer.controls import add_arguments as add_transfer_controls
from ..transfer.controls import from_args as transfer_controls

__all__ = ["CommandError", "add_transfer_controls", "transfer_controls"]


class CommandError(Exception):
    """A user-facing error: printed as one line, exit status 2."""
