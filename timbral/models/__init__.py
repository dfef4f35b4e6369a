"""Models: feature preprocessing, decoders, the autoencoder, presets and model folders."""

from .autoencoder import Autoencoder
from .config import DEFAULT_PRESET, PRESETS, preset_config, validate_config
from .decoders import FcStack, RnnFcDecoder
from .folder import is_model_folder, read_model_folder, save_model_folder
from .preprocessing import F0LoudnessPreprocessor

__all__ = ["Autoencoder", "DEFAULT_PRESET", "F0LoudnessPreprocessor", "FcStack", "PRESETS",
           "RnnFcDecoder", "is_model_folder", "preset_config", "read_model_folder",
           "save_model_folder", "validate_config"]
