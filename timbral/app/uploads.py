"""Receiving and checking uploads: audio, MIDI files and model zips.

Uploads are streamed to disk and refused past their limit (the request's body
is read to its end first, so the client gets the message). Uploaded audio is
decoded, and refused when longer than the server's ``max_seconds`` (from the
file's header where it tells the length, before decoding). A model zip is
refused before anything is extracted or built when it would expand past the
limit or its config describes a larger model; it is then loaded with
:func:`timbral.zoo.load_model` (checked extraction): nothing is ever unpickled.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path, PurePosixPath
from typing import Optional

from starlette.requests import Request

MB = 1_000_000

#: File name suffixes kept for uploaded audio (libsndfile sniffs the content anyway).
AUDIO_SUFFIXES = {".wav", ".wave", ".mp3", ".flac", ".ogg", ".oga", ".opus", ".aif", ".aiff",
                  ".aifc", ".au", ".w64", ".caf"}

#: A model's config.json is a few kB; a larger one in an upload is not read.
MAX_CONFIG_BYTES = MB


#: An upload that sends nothing for this long (s) is dropped.
READ_TIMEOUT_S = 30.0
#: The longest error message sent (characters): one quoting what a client sent
#: (an unknown key of 20 MB) is cut.
MAX_MESSAGE = 400


_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def one_line(message: str) -> str:
    """``message`` as one line the page can show: its first line (a library's error may
    carry a C++ stack), characters JSON cannot carry escaped, at most
    :data:`MAX_MESSAGE` characters."""
    line = re.split(r"\r\n|\n|\r", message.strip())[0]
    line = _UNPRINTABLE.sub(lambda m: ascii(m.group())[1:-1], line)
    line = line.encode("utf-8", "backslashreplace").decode("utf-8")
    return line if len(line) <= MAX_MESSAGE else line[:MAX_MESSAGE - 3] + "..."


class HTTPError(Exception):
    """An answer to the page: ``{"error": message}`` with ``status`` (the message made
    :func:`one_line`)."""

    def __init__(self, status: int, message: str):
        message = one_line(message)
        super().__init__(message)
        self.status = status
        self.message = message


def clean_name(name: Optional[str], default: str) -> str:
    """A file name from the page, fit to show in messages (no folders, no control chars)."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if c.isprintable()).strip()[:120]
    return name or default


def _mb(n_bytes: int) -> str:
    return f"{n_bytes / MB:.1f} MB" if n_bytes < 10 * MB else f"{n_bytes / MB:.0f} MB"


async def receive(request: Request, destination: Path, limit_bytes: int, name: str,
                  option: str) -> int:
    """Stream the request body into ``destination``; refuse it past ``limit_bytes``.

    An oversized body, or a form (the page sends the file's bytes), is read to
    its end (and thrown away, up to 4 GB) before the refusal is sent, so every
    client gets the message rather than a reset connection.
    """
    from starlette.requests import ClientDisconnect

    form = request.headers.get("content-type", "").startswith("multipart/")
    declared = request.headers.get("content-length", "")
    too_big = declared.isdigit() and int(declared) > limit_bytes
    size = 0
    chunks = request.stream().__aiter__()
    try:
        with open(destination, "wb") as out:
            while True:
                try:  # a client that stops sending must not hold the upload open forever
                    chunk = await asyncio.wait_for(chunks.__anext__(), READ_TIMEOUT_S)
                except StopAsyncIteration:
                    break
                except asyncio.TimeoutError:
                    raise HTTPError(408, f"{name}: nothing arrived for {READ_TIMEOUT_S:.0f} s "
                                         f"(the upload stalled); send it again") from None
                size += len(chunk)
                if form or too_big or size > limit_bytes:  # read on, throw away
                    too_big = too_big or size > limit_bytes
                    if size > 4000 * MB:
                        break
                    continue
                out.write(chunk)
    except BaseException as exc:  # a part-received file is nobody's
        destination.unlink(missing_ok=True)
        if isinstance(exc, ClientDisconnect):
            raise HTTPError(400, f"{name}: the upload stopped before its end; send it "
                                 f"again") from None
        raise
    if form:
        destination.unlink(missing_ok=True)
        raise HTTPError(400, f"{name}: send the file's bytes as the request body, not a form")
    if too_big:
        destination.unlink(missing_ok=True)
        size = max(size, int(declared) if declared.isdigit() else 0)
        raise HTTPError(413, f"{name}: {_mb(size)} is larger than this server's limit of "
                             f"{_mb(limit_bytes)} (timbral serve {option})")
    if size == 0:
        destination.unlink(missing_ok=True)
        raise HTTPError(400, f"{name}: the file is empty")
    return size


def check_audio(path: Path, name: str, max_seconds: float, player: Path) -> dict:
    """Decode an uploaded file (worker thread); write the player's copy; describe it."""
    import soundfile as sf

    from ..audio import load_audio, save_audio

    try:  # refuse long files before decoding them, where the header tells the length
        info = sf.info(str(path))
        seconds = info.frames / info.samplerate if info.samplerate else 0.0
    except Exception:  # undecodable: load_audio says why, in its words
        seconds = 0.0
    if seconds <= max_seconds:
        try:
            audio, rate = load_audio(path)
        except ValueError as exc:
            raise HTTPError(400, str(exc).replace(str(path), name)) from None
        seconds = len(audio) / rate
    if seconds > max_seconds:
        raise HTTPError(413, f"{name}: {seconds:.1f} s of audio is longer than this server's "
                             f"limit of {max_seconds:g} s (timbral serve --max-seconds)")
    save_audio(player, audio, rate)
    return {"seconds": seconds, "sample_rate": rate}


def check_model_zip(path: Path, name: str, limit_bytes: int) -> None:
    """Refuse a model zip before anything is extracted or built (worker thread).

    Its declared uncompressed size may not pass ``limit_bytes`` (a zip bomb
    is refused unopened; extraction never writes more than a member declares,
    and :func:`timbral.files.safe_extract_zip` counts the bytes again), and
    every ``config.json`` in it must be a valid timbral config
    (:func:`timbral.models.config.validate_config`, which bounds parameters and
    memory) describing a model whose weights and buffers fit in
    ``limit_bytes``: its weights have to be in the zip anyway. Magenta folders
    have no config.json; their converted config meets ``validate_config`` when
    the model is built.
    """
    from ..files import open_checked_zip
    from ..models.config import model_size, validate_config

    archive, members = open_checked_zip(path)
    with archive:
        declared = sum(info.file_size for info in members)
        if declared > limit_bytes:
            raise HTTPError(413, f"{name}: expands to {_mb(declared)}, more than this server's "
                                 f"limit of {_mb(limit_bytes)} (timbral serve --max-model-mb)")
        for info in members:
            if info.is_dir() or PurePosixPath(info.filename).name != "config.json":
                continue
            where = f"{name}: {info.filename}"
            if info.file_size > MAX_CONFIG_BYTES:
                raise HTTPError(400, f"{where}: {_mb(info.file_size)}, not a model config "
                                     f"(a few kB)")
            try:
                config = validate_config(json.loads(archive.read(info)))
            except ValueError as exc:  # invalid JSON or config, too many parameters
                raise HTTPError(400, f"{where}: {exc}") from None
            n_bytes = model_size(config)[1]
            if n_bytes > limit_bytes:
                raise HTTPError(413, f"{where}: describes a model of about {_mb(n_bytes)}, more "
                                     f"than this server's limit of {_mb(limit_bytes)} (timbral "
                                     f"serve --max-model-mb)")


def load_uploaded_model(path: Path, name: str, limit_bytes: int, device: str = "cpu"):
    """Check an uploaded zip (:func:`check_model_zip`), then load it with
    :func:`timbral.zoo.load_model` onto ``device`` (worker thread)."""
    from ..zoo import load_model

    try:
        check_model_zip(path, name, limit_bytes)
        model = load_model(path, device=device)
    except HTTPError:
        raise
    except ValueError as exc:
        raise HTTPError(400, str(exc).replace(str(path), name).replace(path.name, name)) from None
    except Exception as exc:  # a zip that passed the checks but holds something unusable
        raise HTTPError(400, f"{name}: not a usable model ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
    model.name = Path(name).stem
    return model
