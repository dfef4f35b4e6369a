"""Polyphonic note transcription, and playing a recording's notes with a model.

- :mod:`.network`: basic-pitch's network (``nmp.onnx`` from the ``basic-pitch``
  wheel) in onnxruntime, windowed over any length of audio;
- :mod:`.notes`: its posteriorgrams -> notes with pitch bends;
- :mod:`.dynamics`: each note's own loudness from the recording;
- :mod:`.transcription`: :func:`transcribe`, audio -> a :class:`Transcription`;
- :mod:`.midifile`: a transcription as a standard MIDI file, one voice per channel;
- :mod:`.polyphonic`: :func:`transfer_notes`, the notes played by a model
  through :func:`timbral.midi.play_score` with the recording's dynamics;
- :mod:`.plot`: the piano roll picture;
- :mod:`.material`: rendered chord progressions with known notes (what the
  transcriber is measured on).

``docs/transcribe.md`` describes how it works and how well.
"""

from .midifile import write_midi
from .network import Activations, get_network, model_path
from .polyphonic import PolyphonicResult, PolyphonicTransfer, transfer_notes
from .transcription import TranscribedNote, Transcription, transcribe

__all__ = ["Activations", "PolyphonicResult", "PolyphonicTransfer", "TranscribedNote",
           "Transcription", "get_network", "model_path", "transcribe", "transfer_notes",
           "write_midi"]
