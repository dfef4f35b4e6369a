"""Models: feature preprocessing and the decoders that turn features into synth controls."""

from .decoders import FcStack, RnnFcDecoder
from .preprocessing import F0LoudnessPreprocessor

__all__ = ["F0LoudnessPreprocessor", "FcStack", "RnnFcDecoder"]
