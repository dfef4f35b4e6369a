"""timbral: differentiable digital signal processing (DDSP) and timbre transfer in PyTorch."""

__version__ = "0.1.0"
