"""Real-time timbre transfer: a stateful, causal processor over audio blocks.

``StreamProcessor(model, block_size)`` takes blocks of input audio (a voice,
an instrument) and returns blocks of the same size played by the model's
instrument, with:

- causal features (:mod:`.features`): CREPE on windows that end at the
  current sample, decoded online, refined from the harmonics; loudness from
  the last window;
- streaming auto-adjust (:mod:`.adjust`): note detection, octave shift and
  loudness quantile matching from running statistics;
- stateful synthesis (:mod:`.synth`): the model's one synthesis graph
  (:meth:`~timbral.models.Autoencoder.process`) with the decoder's recurrent
  state, the oscillator phase, the noise filter's and the reverb's tails
  carried between frames; the output equals the offline rendering of the
  same features, delayed, for any block size;
- :func:`stream_audio` runs a whole signal through it (files, tests,
  benchmarks); :mod:`.live` runs it between an audio input and output device
  (``timbral live``); :mod:`timbral.models.export` exports the per-frame
  synthesis step to TorchScript or ONNX.

Latency and the meaning of its parts: :mod:`.engine` and ``docs/streaming.md``.
"""

from .adjust import AdjustedFrame, StreamingAdjust
from ..zoo import as_model
from .engine import StreamProcessor, StreamStats, engine_delay, stream_audio
from .features import (DEFAULT_STREAM_TRACKER, STREAM_TRACKERS, CausalCrepe, CausalFeatures,
                       CausalLoudness, InputHistory)
from .live import AudioDevice, LiveAudio, LiveAudioError, LiveReport
from .synth import StreamSynth

__all__ = ["AdjustedFrame", "AudioDevice", "CausalCrepe", "CausalFeatures", "CausalLoudness",
           "DEFAULT_STREAM_TRACKER", "InputHistory", "LiveAudio", "LiveAudioError", "LiveReport",
           "STREAM_TRACKERS", "StreamProcessor", "StreamStats", "StreamSynth", "StreamingAdjust",
           "as_model", "engine_delay", "stream_audio"]
