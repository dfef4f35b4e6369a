"""Shared pieces of the command line."""

from __future__ import annotations

# The transfer controls' options (`transfer`, `stream`, `live`) and the checked keyword
# arguments of transfer() / StreamProcessor they give: one table, timbral.transfer.controls.
from ..transfer.controls import add_arguments as add_transfer_controls
from ..transfer.controls import from_args as transfer_controls

from ..options import add_device_option
from ..validation import check_device

__all__ = ["CommandError", "add_device_option", "add_transfer_controls", "check_device",
           "check_live_args", "transfer_controls"]


class CommandError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


def check_live_args(args, example_model: str) -> None:
    """`timbral live` (audio or MIDI in): a model is named and --duration is positive."""
    if args.model is None:
        raise CommandError(f"--model: required (e.g. --model {example_model})")
    if args.duration is not None and not args.duration > 0:
        raise CommandError(f"--duration: expected a positive number of seconds, got "
                           f"{args.duration:g}")

