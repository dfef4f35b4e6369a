"""The notebook helpers, and the example notebook executed top to bottom."""

import base64
import io
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from timbral.notebook import Player, play, specplot

NOTEBOOK = Path(__file__).parent.parent / "docs" / "timbre_transfer.ipynb"


def test_player_embeds_the_audio_it_was_given():
    tone = 0.5 * np.sin(2 * np.pi * 440 * np.arange(8000) / 16000).astype(np.float32)
    player = play(tone, 16000, title="a <tone>")
    assert isinstance(player, Player) and player.seconds == 0.5
    page = player._repr_html_()
    assert "<audio controls" in page and "a &lt;tone&gt;" in page
    data = page.split("base64,")[1].split('"')[0]
    decoded, rate = sf.read(io.BytesIO(base64.b64decode(data)), dtype="float32")
    assert rate == 16000 and np.abs(decoded - tone).max() < 1e-4
    picture = specplot(tone, 16000)
    assert len(picture.figure.axes) == 1 and picture._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_example_notebook_runs_offline_top_to_bottom():
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3").execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    html = [o for o in outputs if "text/html" in o.get("data", {})]
    pictures = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(html) >= 3 and len(pictures) >= 3  # players and figures rendered
