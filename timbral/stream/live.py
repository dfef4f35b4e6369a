"""Live audio: a :class:`~.engine.StreamProcessor` in a PortAudio callback (`timbral live`).

:class:`LiveAudio` reaches the audio devices through the optional ``sounddevice``
package (``pip install 'timbral[live]'``) and the PortAudio library (``apt-get
install libportaudio2``); :meth:`LiveAudio.play` opens one mono float32 stream at
the processor's rate and block size and answers each input block with the
processor's output block. Whatever stops live audio (the package, the library or
a device missing, a stream that will not open) raises :class:`LiveAudioError`
with one line for the user.
"""

from __future__ import annotations

import time
from typing import Dict, Iterator, List, NamedTuple, Optional, Tuple

import numpy as np

from .engine import StreamProcessor

#: Blocks processed (then forgotten by :meth:`StreamProcessor.reset`) before the
#: stream opens: the first calls allocate and compile, and would miss the deadline.
WARMUP_BLOCKS = 3


class LiveAudioError(RuntimeError):
    """Live audio cannot start; the message is one line saying what to do."""


class AudioDevice(NamedTuple):
    """A PortAudio device: its number, name, channels and default rate (Hz)."""

    index: int
    name: str
    inputs: int
    outputs: int
    sample_rate: float


class LiveReport(NamedTuple):
    """What :meth:`LiveAudio.play` yields: the stream's device latency (ms, in and
    out), compute per block so far (``StreamStats.summary``: empty before any
    block) and the callbacks PortAudio flagged (over/underruns)."""

    latency_in_ms: float
    latency_out_ms: float
    summary: Dict[str, float]
    problems: int


def _sounddevice():
    try:
        import sounddevice
    except ImportError:
        raise LiveAudioError("live audio needs the 'sounddevice' package: "
                             "pip install 'timbral[live]' (or play a file through the "
                             "same engine: timbral stream INPUT --output OUT)") from None
    except OSError as exc:  # the package is there, the PortAudio library is not
        raise LiveAudioError(f"live audio needs the PortAudio library ({exc}); on Debian or "
                             f"Ubuntu: apt-get install libportaudio2 (or play a file through "
                             f"the same engine: timbral stream INPUT --output OUT)") from None
    return sounddevice


class LiveAudio:
    """The audio devices PortAudio sees, and the engine played on two of them.

    Raises :class:`LiveAudioError` without ``sounddevice`` or PortAudio.
    """

    def __init__(self):
        self._sd = _sounddevice()
        self.devices: List[AudioDevice] = [
            AudioDevice(i, d["name"], d["max_input_channels"], d["max_output_channels"],
                        d["default_samplerate"])
            for i, d in enumerate(self._sd.query_devices())]

    def choose_devices(self, input_device: Optional[int] = None,
                       output_device: Optional[int] = None) -> Tuple[Optional[int],
                                                                     Optional[int]]:
        """Check the device numbers (None: PortAudio's default) and return them.

        Raises :class:`LiveAudioError` for a number that is not an input (or
        output) device, or when there is no input or no output device at all.
        """
        inputs = [d.index for d in self.devices if d.inputs > 0]
        outputs = [d.index for d in self.devices if d.outputs > 0]
        for kind, wanted, usable in (("input", input_device, inputs),
                                     ("output", output_device, outputs)):
            if wanted is not None and wanted not in usable:
                listed = ", ".join(f"{i}: {self.devices[i].name}" for i in usable) or "none"
                raise LiveAudioError(f"{kind}_device {wanted}: not an {kind} device; "
                                     f"{kind}s: {listed}")
        if not inputs or not outputs:
            missing = " and ".join(k for k, v in (("input", inputs), ("output", outputs)) if not v)
            raise LiveAudioError(f"no audio {missing} device found (PortAudio sees "
                                 f"{len(self.devices)} device(s)); `timbral stream INPUT "
                                 f"--output OUT` runs the same streaming path over a file")
        return input_device, output_device

    def play(self, processor: StreamProcessor, input_device: Optional[int] = None,
             output_device: Optional[int] = None, duration: Optional[float] = None,
             interval: float = 2.0) -> Iterator[LiveReport]:
        """Run ``processor`` from an input device to an output device.

        The processor (fixed ``block_size``) is warmed up and reset, then called
        from the audio callback with each block. Yields a :class:`LiveReport`
        once the stream is open, then every ``interval`` seconds until
        ``duration`` seconds have passed (None: until interrupted, e.g. Ctrl-C);
        the stream closes when the generator ends or is closed.
        """
        if processor.block_size is None:
            raise ValueError("processor: live audio needs a StreamProcessor with a fixed "
                             "block_size")
        devices = self.choose_devices(input_device, output_device)
        block, rate = processor.block_size, processor.sample_rate
        silence = np.zeros(block, np.float32)
        for _ in range(WARMUP_BLOCKS):
            processor.process(silence)
        processor.reset()
        problems, failed = 0, None

        def callback(indata, outdata, frames, time_info, status):
            nonlocal problems, failed
            if status:
                problems += 1
            try:
                outdata[:] = processor.process(indata[:, 0])[:, None]
            except Exception as exc:  # PortAudio stops the stream: say why, not go on quietly
                failed = exc
                outdata[:] = 0.0
                raise self._sd.CallbackAbort from None

        try:
            stream = self._sd.Stream(samplerate=rate, blocksize=block, device=devices,
                                     channels=1, dtype="float32", latency="low",
                                     callback=callback)
        except Exception as exc:  # PortAudioError and friends: one line for the user
            raise LiveAudioError(f"cannot open the audio devices at {rate} Hz with blocks of "
                                 f"{block}: {exc}") from None

        def report() -> LiveReport:
            if failed is not None:
                raise LiveAudioError(f"the audio stopped: {type(failed).__name__}: {failed}")
            return LiveReport(stream.latency[0] * 1000.0, stream.latency[1] * 1000.0,
                              processor.stats.summary(block, rate), problems)

        with stream:
            yield from reports_until(report, duration, interval)


def reports_until(report, duration: Optional[float], interval: float) -> Iterator:
    """``report()`` now, then every ``interval`` seconds until ``duration`` seconds have
    passed (None: forever; the caller stops iterating), for a live run's status line."""
    yield report()
    end = None if duration is None else time.monotonic() + duration
    while end is None or time.monotonic() < end:
        time.sleep(interval if end is None else max(0.0, min(interval, end - time.monotonic())))
        yield report()


__all__ = ["AudioDevice", "LiveAudio", "LiveAudioError", "LiveReport", "WARMUP_BLOCKS",
           "reports_until"]
