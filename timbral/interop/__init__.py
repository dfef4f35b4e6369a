"""Interoperability with other DDSP implementations (Magenta's checkpoints)."""
