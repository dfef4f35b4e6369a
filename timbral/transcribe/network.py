"""basic-pitch's network (Spotify, Apache-2.0) run with onnxruntime: audio -> activations.

The network is the ``nmp.onnx`` file inside the ``basic-pitch`` wheel
(``basic_pitch/saved_models/icassp_2022/``, 230 KB), found without importing
the package (whose ``__init__`` and inference modules want TensorFlow,
librosa and pretty_midi); nothing is downloaded. It takes windows of
:data:`WINDOW` samples of mono audio at :data:`SAMPLE_RATE` and returns, per
frame of :data:`HOP` samples, three posteriorgrams: ``note`` (a note of each
of the 88 piano keys sounds), ``onset`` (one starts) and ``contour`` (pitch
salience in thirds of a semitone, 264 bins).

Windowing (the same 2 s windows and 30 frames of overlap as basic-pitch's
``inference.py``, with an exact time axis): the audio is padded with
:data:`EDGE` frames of silence in front and cut into windows every
``WINDOW_STEP = 142 * HOP`` samples. Window ``w``'s 172 frames are then
exactly frames ``142 w - 15 .. 142 w + 156`` of the audio, frame ``i``
centred on sample ``i * HOP`` (basic-pitch steps its windows 188 samples
short of 142 frames and corrects the drift with a fitted constant).
basic-pitch drops the first and last :data:`EDGE` frames of each window and
butts the rest together; here the 30 frames two windows share are
cross-faded instead (:func:`_join`), which leaves no step in a held note's
posteriors at the joins, every 1.65 s.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..audio import check_sample_rate, resample_audio
from ..features.pitch.base import package_dir
from ..validation import as_mono_audio

#: The network's input rate (Hz), frame hop (samples) and window (samples).
SAMPLE_RATE = 22050
HOP = 256
WINDOW = 2 * SAMPLE_RATE - HOP  # 43844
#: Frames per second of the activations (86.13).
FRAME_RATE = SAMPLE_RATE / HOP
#: Frames the network gives per window, frames dropped at each end, frames kept.
WINDOW_FRAMES = 172
EDGE = 15
KEPT_FRAMES = WINDOW_FRAMES - 2 * EDGE
WINDOW_STEP = KEPT_FRAMES * HOP
#: MIDI key of the first of the 88 note bins (A0); contour bins per semitone.
LOWEST_KEY = 21
N_KEYS = 88
CONTOUR_BINS_PER_SEMITONE = 3
#: Windows run through the network at once (bounds memory: about 60 MB each).
BATCH = 8

#: Where the network lives inside the installed ``basic-pitch`` package.
MODEL_FILE = Path("saved_models") / "icassp_2022" / "nmp.onnx"
INSTALL_HINT = ("pip install --no-deps basic-pitch==0.4.0 (see requirements/trackers.txt; "
                "--no-deps keeps TensorFlow out)")
ONNXRUNTIME_HINT = "pip install onnxruntime (or pip install 'timbral[transcribe]')"
# The network's tensor names (basic-pitch's inference.py: note, onset, contour).
_INPUT = "serving_default_input_2:0"
_OUTPUTS = ("StatefulPartitionedCall:1", "StatefulPartitionedCall:2",
            "StatefulPartitionedCall:0")


@dataclass
class Activations:
    """The network's output for one recording, ``n_frames`` frames at :data:`FRAME_RATE`
    (frame ``i`` centred on ``i / FRAME_RATE`` s).

    Attributes:
      note: float32 ``[n_frames, 88]``, a note of key ``21 + k`` sounds (0..1).
      onset: float32 ``[n_frames, 88]``, one starts (0..1).
      contour: float32 ``[n_frames, 264]``, pitch salience; bin ``b`` is MIDI
        ``21 + b / 3`` (0..1).
    """

    note: np.ndarray
    onset: np.ndarray
    contour: np.ndarray

    @property
    def n_frames(self) -> int:
        return int(self.note.shape[0])

    @property
    def times(self) -> np.ndarray:
        """Frame centres (s), float64 ``[n_frames]``."""
        return np.arange(self.n_frames) / FRAME_RATE


def model_path() -> Path:
    """``nmp.onnx`` in the installed ``basic-pitch`` package; a one-line ValueError
    saying how to install it when it is missing."""
    try:
        path = package_dir("basic_pitch") / MODEL_FILE
    except ValueError:
        raise ValueError(f"note transcription needs the basic-pitch package: "
                         f"{INSTALL_HINT}") from None
    if not path.is_file():
        raise ValueError(f"{path}: missing from the installed basic-pitch; reinstall it: "
                         f"{INSTALL_HINT}")
    return path


class Network:
    """The network in an onnxruntime session (:func:`get_network` keeps one per
    thread count). Call :meth:`activations` on audio."""

    def __init__(self, threads: int = 2):
        try:
            import onnxruntime as ort
        except ImportError:
            raise ValueError(f"note transcription needs onnxruntime: "
                             f"{ONNXRUNTIME_HINT}") from None
        path = model_path()
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
        # no busy-waiting between runs: on a shared machine it only takes cores from others
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), options,
                                            providers=["CPUExecutionProvider"])
        self.path = path
        self._lock = threading.Lock()  # one run at a time: the threads are already in use

    def activations(self, audio, sample_rate: int) -> Activations:
        """Run the network over mono ``audio`` (``[n_samples]`` in [-1, 1]) at
        ``sample_rate`` Hz; ``n_samples * FRAME_RATE / sample_rate`` frames (rounded
        up, at least one)."""
        audio = resample_audio(as_mono_audio(audio), check_sample_rate(sample_rate),
                               SAMPLE_RATE)
        n_frames = max(1, -(-len(audio) // HOP))
        n_windows = -(-n_frames // KEPT_FRAMES)
        padded = np.zeros((n_windows - 1) * WINDOW_STEP + WINDOW, np.float32)
        padded[EDGE * HOP:EDGE * HOP + len(audio)] = audio
        windows = np.lib.stride_tricks.sliding_window_view(padded, WINDOW)[::WINDOW_STEP]
        outputs = []
        with self._lock:
            for first in range(0, n_windows, BATCH):
                batch = np.ascontiguousarray(windows[first:first + BATCH])[..., None]
                outputs.append(self.session.run(list(_OUTPUTS), {_INPUT: batch}))
        note, onset, contour = (_join(np.concatenate([o[k] for o in outputs]))[:n_frames]
                                for k in range(3))
        return Activations(note, onset, contour)


def _join(windows: np.ndarray) -> np.ndarray:
    """``[n_windows, WINDOW_FRAMES, bins]`` -> frames ``0 ..`` of the audio
    (``[n_windows * KEPT_FRAMES, bins]``). Where two windows meet they overlap
    by ``2 * EDGE`` frames; there the two are cross-faded, each weighted by its
    distance from its own edge, so the posteriors carry no step at the join (a
    held note's posterior can jump 0.6 -> 0.8 from one window to the next,
    which reads as a new onset)."""
    n_windows, n, bins = windows.shape
    ramp = (np.arange(2 * EDGE, dtype=np.float32) + 0.5) / (2 * EDGE)
    weight = np.ones(n, np.float32)
    weight[:2 * EDGE], weight[-2 * EDGE:] = ramp, ramp[::-1]
    total = np.zeros((n_windows * KEPT_FRAMES + 2 * EDGE, bins), np.float32)
    norm = np.zeros(total.shape[0], np.float32)
    for w in range(n_windows):
        total[w * KEPT_FRAMES:w * KEPT_FRAMES + n] += weight[:, None] * windows[w]
        norm[w * KEPT_FRAMES:w * KEPT_FRAMES + n] += weight
    total /= norm[:, None]
    return total[EDGE:EDGE + n_windows * KEPT_FRAMES]  # the first EDGE frames precede the audio


@functools.lru_cache(maxsize=4)
def get_network(threads: int = 2) -> Network:
    """The network in onnxruntime with ``threads`` threads, loaded once (about 0.1 s)."""
    return Network(threads)


__all__ = ["Activations", "FRAME_RATE", "HOP", "LOWEST_KEY", "N_KEYS", "Network",
           "SAMPLE_RATE", "get_network", "model_path"]
