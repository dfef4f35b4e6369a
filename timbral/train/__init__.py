"""Training: the loop, checkpoints and distributed data parallel."""

from .checkpoint import load_checkpoint, read_checkpoint_info, save_checkpoint
from .trainer import TrainingDiverged, TrainingInterrupted, TrainResult, train, validation_loss

__all__ = ["TrainResult", "TrainingDiverged", "TrainingInterrupted", "load_checkpoint",
           "read_checkpoint_info", "save_checkpoint", "train", "validation_loss"]
