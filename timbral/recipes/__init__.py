"""How the shipped instruments are made and measured (a pipeline over the others).

- :mod:`.build`: one recipe per shipped model (SoundFont instrument, preset,
  steps) and :func:`~.build.build`: render, prepare, train, evaluate on
  held-out renders, write the model folder (``timbral zoo build NAME``);
- :mod:`.evaluate`: resynthesis quality (spectral loss, f0 and loudness
  errors) and transfer checks of a model on clips it never trained on.

The shipped folders themselves, and loading them by name, are :mod:`timbral.zoo`.
"""
