"""Shared fixtures: small rendered corpora and a prepared dataset, built once per session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def violin_clips(tmp_path_factory):
    """Two 8 s SoundFont violin clips (FLAC) in a folder."""
    from timbral.data.corpus import render_corpus

    folder = tmp_path_factory.mktemp("violin_clips")
    render_corpus("violin", 16 / 60, folder, seed=7, clip_seconds=8.0, progress=False)
    return folder


@pytest.fixture(scope="session")
def violin_dataset(violin_clips, tmp_path_factory):
    """``violin_clips`` prepared at 500 Hz frames (the default)."""
    from timbral.data.dataset import prepare_dataset

    out = tmp_path_factory.mktemp("datasets") / "violin"
    prepare_dataset([violin_clips], out, progress=False)
    return out
