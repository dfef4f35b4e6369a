"""The web app's server: sessions, uploads, limits and the routes the page calls.

Every browser tab gets a session: an unguessable id and a private folder in
the server's temporary folder. Uploads, results and pictures live there and
are served only under that id, so concurrent users never see each other's
files. A session's files are replaced as new ones arrive, deleted when the
tab closes or after ``session_minutes`` idle, and the whole temporary folder
goes when the server stops.

Transfers run on a pool of ``jobs`` threads (the heavy work is PyTorch); up to
``max_queue`` more wait their turn, and beyond that the server answers "busy".
Uploads are streamed to disk and refused past ``max_upload_mb`` (audio),
``max_midi_mb`` (MIDI files) or ``max_model_mb`` (model zips); a model zip is
also refused, before anything is extracted or built, when it would expand past
``max_model_mb`` or its config describes a larger model; audio longer than
``max_seconds`` is refused (those checks are in :mod:`timbral.app.uploads`),
and so is a MIDI score that plays for longer than ``max_midi_seconds`` (at the
chosen tempo) or needs more than ``max_midi_voices`` voices (each is rendered
over the whole score), before anything is rendered.

A MIDI file is played in one request (``POST /api/session/{sid}/midi``, the
file as the body, the options in the query string): read with
:func:`timbral.midi.read_midi` and rendered with :func:`timbral.midi.play_score`
as ``timbral play`` does, with the piano roll of :func:`timbral.midi.plot.plot_roll`.

Every request first passes the guard of :mod:`timbral.app.guard` (requests
from other sites' pages, DNS rebinding, security headers).
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import shutil
import socket
import sys
import tempfile
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from ..validation import check_device
from .guard import Guard, is_loopback
from .limits import Limits
from .uploads import (AUDIO_SUFFIXES, MB, HTTPError, check_audio, clean_name, one_line,
                      load_uploaded_model, receive)

#: The page: its files in the package's static folder, by the address they are served at.
STATIC = Path(__file__).with_name("static")
PAGE_FILES = {"/": ("index.html", "text/html; charset=utf-8"),
              "/app.js": ("app.js", "text/javascript; charset=utf-8"),
              "/app.css": ("app.css", "text/css; charset=utf-8")}

_SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_FILE_NAME = re.compile(r"^[a-z]+-[0-9]+\.(wav|png)$")
#: Name prefixes of a session's result files (a new result replaces them all).
RESULT_PREFIXES = ("output-", "notes-", "spectrograms-", "played-", "roll-")
#: Query parameters of the MIDI route that are not :data:`timbral.midi.controls.OPTIONS`.
MIDI_REQUEST_KEYS = ("name", "model", "plot")
_UPLOADED = "uploaded"  # model id of a session's own uploaded zip
SESSION_ENDED = ("this page's session has ended (the server restarted, or the page was idle "
                 "too long); reload the page")


class ModelStore:
    """The models the page offers: shipped ones and those named with ``--model``.

    Models load on first use and stay loaded (loading is serialised; using a
    loaded model from several threads at once is safe: rendering never
    changes it). Models named with ``--model`` are loaded at once, so a bad
    path fails when the server starts, not when a user picks it.
    """

    def __init__(self, extra: Sequence = (), device: str = "cpu"):
        from ..zoo import card_summary, list_models, load_model

        self.device = check_device(device)
        self._load_model = lambda source: load_model(source, device=self.device)
        self._lock = threading.Lock()
        self._loaded: Dict[str, object] = {}
        self.entries: Dict[str, dict] = {}
        for entry in list_models():
            self.entries[entry["name"]] = {"source": entry["name"], "kind": "shipped",
                                           "description": card_summary(entry["card"])}
        for item in extra:
            path = Path(item)
            try:
                model = self._load_model(path)
            except ValueError as exc:
                raise ValueError(f"--model {item}: {exc}") from None
            name = base = path.stem if path.suffix.lower() == ".zip" else path.name
            n = 2
            while name in self.entries or name == _UPLOADED:
                name, n = f"{base}-{n}", n + 1
            self.entries[name] = {"source": str(path), "kind": "local",
                                  "description": card_summary(getattr(model, "card", ""))}
            self._loaded[name] = model

    def describe(self) -> List[dict]:
        return [{"id": name, "name": name, "kind": e["kind"], "description": e["description"]}
                for name, e in self.entries.items()]

    def describe_one(self, name: str) -> dict:
        if name not in self.entries:
            raise HTTPError(400, f"model {name!r}: not offered here; choose one of "
                                 f"{', '.join(self.entries) or 'none (upload a model zip)'}")
        return self.entries[name]

    def get(self, name: str):
        entry = self.describe_one(name)
        with self._lock:
            if name not in self._loaded:
                self._loaded[name] = self._load_model(entry["source"])
            return self._loaded[name]


@dataclass
class Session:
    id: str
    folder: Path
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_used: float = field(default_factory=time.monotonic)
    busy: int = 0
    counter: int = 0
    source: Optional[Path] = None       # the uploaded audio, as received
    source_name: str = ""
    model: Optional[object] = None      # the uploaded model, loaded
    files: Dict[str, Path] = field(default_factory=dict)
    receiving: bool = False             # an upload's body is arriving

    @property
    def idle(self) -> bool:
        """Nothing runs, waits or arrives for this page: it may be closed."""
        return not self.busy and not self.lock.locked() and not self.receiving

    def next_number(self) -> int:
        self.counter += 1
        return self.counter

    def add_file(self, path: Path) -> str:
        self.files[path.name] = path
        return path.name

    def drop_files(self, prefix: str) -> None:
        for name in [n for n in self.files if n.startswith(prefix)]:
            self.files.pop(name).unlink(missing_ok=True)


#: The most a request's JSON options may hold (bytes): a few hundred are used.
MAX_JSON_BYTES = 64 * 1024


async def _json(request: Request):
    """The request body as JSON; a 413 past :data:`MAX_JSON_BYTES` (before reading it,
    where the headers tell), a 400 for what is not JSON."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_JSON_BYTES:
        raise HTTPError(413, f"the options are {int(declared)} bytes; at most "
                             f"{MAX_JSON_BYTES} are read")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_JSON_BYTES:
            raise HTTPError(413, f"the options are larger than {MAX_JSON_BYTES} bytes")
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # not JSON, or nested past Python's stack
        raise HTTPError(400, "expected the transfer options as JSON") from None


def _describe_model(model, name: str, kind: str) -> dict:
    from ..zoo import card_summary

    return {"id": _UPLOADED if kind == "uploaded" else name, "name": name, "kind": kind,
            "description": card_summary(getattr(model, "card", "") or ""),
            "sample_rate": model.sample_rate, "frame_rate": model.frame_rate,
            "statistics": model.statistics is not None}


class App:
    """State shared by the routes: models, sessions, the worker pool, the limits."""

    def __init__(self, models: ModelStore, limits: Limits, root: Optional[Path] = None):
        self.models = models
        self.limits = limits
        self.root = Path(root) if root else Path(tempfile.mkdtemp(prefix="timbral-web-"))
        self.root.chmod(0o700)
        self.sessions: Dict[str, Session] = {}
        self.executor = ThreadPoolExecutor(limits.jobs, thread_name_prefix="timbral-transfer")
        self.pending = 0  # transfers running or waiting
        from ..zoo import EXAMPLE_CLIP

        self.example = EXAMPLE_CLIP if EXAMPLE_CLIP.is_file() else None
        self.warm_lock = threading.Lock()
        self.static = {url: ((STATIC / name).read_bytes(), media_type)
                       for url, (name, media_type) in PAGE_FILES.items()}

    # -- sessions ----------------------------------------------------------------
    def new_session(self) -> Session:
        while len(self.sessions) >= self.limits.max_sessions:
            idle = [s for s in self.sessions.values() if s.idle]
            if not idle:
                raise HTTPError(503, f"the server is busy ({len(self.sessions)} pages in use, "
                                     f"timbral serve --max-sessions); try again shortly")
            self.close_session(min(idle, key=lambda s: s.last_used).id)
        sid = secrets.token_urlsafe(18)
        folder = self.root / sid
        folder.mkdir(mode=0o700)
        session = Session(sid, folder)
        self.sessions[sid] = session
        return session

    def session(self, request: Request) -> Session:
        sid = request.path_params["sid"]
        session = self.sessions.get(sid) if _SESSION_ID.match(sid) else None
        if session is None:
            raise HTTPError(404, SESSION_ENDED)
        session.last_used = time.monotonic()
        return session

    async def receive(self, request: Request, session: Session, path: Path, limit_mb: float,
                      name: str, option: str) -> None:
        """:func:`receive` an upload into ``session``, one at a time per page (a 429 for
        a second); a 404 when the page closed its session while the body arrived (its
        folder is gone)."""
        if session.receiving:
            raise HTTPError(429, f"{name}: another upload to this page is still arriving; "
                                 f"send this one when it has")
        session.receiving = True
        try:
            await receive(request, path, int(limit_mb * MB), name, option)
        finally:
            session.receiving = False
            session.last_used = time.monotonic()
        self.check_open(session, path)

    def check_open(self, session: Session, path: Optional[Path] = None) -> None:
        """A 404 (and ``path`` removed) when the page's session was closed meanwhile."""
        if self.sessions.get(session.id) is not session:
            if path is not None:
                path.unlink(missing_ok=True)
            raise HTTPError(404, SESSION_ENDED)

    def close_session(self, sid: str) -> None:
        session = self.sessions.pop(sid, None)
        if session is not None and not session.busy:  # a busy one is removed when done
            shutil.rmtree(session.folder, ignore_errors=True)

    def reap(self) -> None:
        """Delete sessions idle for longer than the limit."""
        horizon = time.monotonic() - 60.0 * self.limits.session_minutes
        for sid, session in list(self.sessions.items()):
            if session.last_used < horizon and session.idle:
                self.close_session(sid)

    def shutdown(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.sessions.clear()
        shutil.rmtree(self.root, ignore_errors=True)

    def file_url(self, session: Session, name: str) -> str:
        return f"/api/session/{session.id}/files/{name}"

    # -- routes ------------------------------------------------------------------
    async def page(self, request: Request) -> Response:
        content, media_type = self.static[request.url.path]
        return Response(content, media_type=media_type, headers={"cache-control": "no-cache"})

    async def config(self, request: Request) -> Response:
        from ..midi.controls import as_json as midi_options_json
        from ..transfer.controls import as_json

        return JSONResponse({"models": self.models.describe(), "limits": asdict(self.limits),
                             "controls": as_json(), "midi_options": midi_options_json(),
                             "example": self.example.name if self.example else None})

    async def create_session(self, request: Request) -> Response:
        session = self.new_session()
        return JSONResponse({"session": session.id})

    async def close(self, request: Request) -> Response:
        self.close_session(request.path_params["sid"])
        return JSONResponse({"closed": True})

    async def upload_audio(self, request: Request) -> Response:
        session = self.session(request)
        name = clean_name(request.query_params.get("name"), "audio")
        suffix = Path(name).suffix.lower()
        suffix = suffix if suffix in AUDIO_SUFFIXES else ".audio"
        number = session.next_number()
        path = session.folder / f"source-{number}{suffix}"
        # received before the lock: a slow upload must not hold up the page's other requests
        await self.receive(request, session, path, self.limits.max_upload_mb, name,
                           "--max-upload-mb")
        async with session.lock:
            self.check_open(session, path)  # closed while this waited for the lock
            return await self._accept_audio(session, path, name, number)

    async def use_example(self, request: Request) -> Response:
        session = self.session(request)
        if self.example is None:
            raise HTTPError(404, "this installation has no example clip")
        async with session.lock:
            number = session.next_number()
            path = session.folder / f"source-{number}{self.example.suffix}"
            shutil.copyfile(self.example, path)
            return await self._accept_audio(session, path, self.example.name, number)

    async def _accept_audio(self, session: Session, path: Path, name: str,
                            number: int) -> Response:
        """Check a received file and make it the session's input (lock held)."""
        player = session.folder / f"input-{number}.wav"
        try:
            info = await asyncio.get_running_loop().run_in_executor(
                None, check_audio, path, name, self.limits.max_seconds, player)
        except BaseException:
            path.unlink(missing_ok=True)
            player.unlink(missing_ok=True)
            raise
        if session.source is not None:
            session.source.unlink(missing_ok=True)
        session.drop_files("input-")
        session.source, session.source_name = path, name
        session.add_file(player)
        return JSONResponse({"name": name, "url": self.file_url(session, player.name), **info})

    async def upload_model(self, request: Request) -> Response:
        session = self.session(request)
        name = clean_name(request.query_params.get("name"), "model.zip")
        if not name.lower().endswith(".zip"):
            raise HTTPError(400, f"{name}: upload a model as a .zip of its folder (a timbral "
                                 f"model folder, or a Magenta model folder)")
        path = session.folder / f"model-{session.next_number()}.zip"
        limit = int(self.limits.max_model_mb * MB)
        try:
            await self.receive(request, session, path, self.limits.max_model_mb, name,
                               "--max-model-mb")  # before the lock, as audio
            async with session.lock:
                self.check_open(session)
                model = await asyncio.get_running_loop().run_in_executor(
                    None, load_uploaded_model, path, name, limit, self.models.device)
                session.model = model
        finally:
            path.unlink(missing_ok=True)
        return JSONResponse(_describe_model(model, model.name, "uploaded"))

    async def run_transfer(self, request: Request) -> Response:
        from ..transfer.controls import from_json

        session = self.session(request)
        body = await _json(request)
        if not isinstance(body, dict):
            raise HTTPError(400, "expected the transfer options as a JSON object")
        try:
            options = from_json(body, ignore=("model", "plots", "polyphonic"))
        except ValueError as exc:
            raise HTTPError(400, str(exc)) from None
        plots = body.get("plots", True)
        if not isinstance(plots, bool):
            raise HTTPError(400, f"plots: expected true or false, got {plots!r}")
        polyphonic = body.get("polyphonic", False)  # chords: `timbral transfer --polyphonic`
        if not isinstance(polyphonic, bool):
            raise HTTPError(400, f"polyphonic: expected true or false, got {polyphonic!r}")
        model_id = body.get("model")
        if not isinstance(model_id, str) or not model_id:
            raise HTTPError(400, "model: choose a model")
        if model_id != _UPLOADED:
            self.models.describe_one(model_id)  # refuse an unknown name before queueing
        self._check_not_busy()
        async with session.lock:
            if session.source is None:
                raise HTTPError(400, "no audio yet: record or upload a clip first")
            model = self._session_model(session, model_id)
            number = session.next_number()
            out = await self._run_job(session, self._work, session.source, session.source_name,
                                      model, model_id, options, session.folder, number, plots,
                                      polyphonic)
            answer = {
                "audio_url": self.file_url(session, session.add_file(out["output"])),
                "download_name": f"{Path(session.source_name).stem or 'audio'}-"
                                 f"{out['model']}.wav",
                "pictures": {key: self.file_url(session, session.add_file(path))
                             for key, path in out["pictures"].items()},
                **{k: out[k] for k in ("messages", "timings", "seconds", "sample_rate",
                                       "samples", "note_on_fraction", "model")},
            }
        return JSONResponse(answer)

    def _check_not_busy(self) -> None:
        if self.pending >= self.limits.jobs + self.limits.max_queue:
            raise HTTPError(503, f"the server is busy ({self.pending} transfers running or "
                                 f"waiting); try again shortly")

    @staticmethod
    def _session_model(session: Session, model_id: str):
        """The session's uploaded model for "uploaded"; None for an offered one (loaded in
        the worker: loading can take a while)."""
        if model_id != _UPLOADED:
            return None
        if session.model is None:
            raise HTTPError(400, "no model zip uploaded on this page; upload one or pick a "
                                 "shipped model")
        return session.model

    async def _run_job(self, session: Session, work, *args) -> dict:
        """``work(queued_at, *args)`` on the worker pool (session lock held); then the
        session's previous results are dropped (their files named by RESULT_PREFIXES)."""
        self._check_not_busy()  # again: other requests may have queued during the upload
        session.busy += 1
        self.pending += 1
        queued_at = time.perf_counter()
        try:
            out = await asyncio.get_running_loop().run_in_executor(
                self.executor, work, queued_at, *args)
        finally:
            session.busy -= 1
            self.pending -= 1
        if session.id not in self.sessions:  # closed meanwhile
            shutil.rmtree(session.folder, ignore_errors=True)
            raise HTTPError(404, "this page's session ended during the transfer")
        for prefix in RESULT_PREFIXES:
            session.drop_files(prefix)
        session.last_used = time.monotonic()
        return out

    def _warm_pitch_tracker(self) -> None:
        """Build the default pitch tracker once, not in two threads at once."""
        with self.warm_lock:
            from ..features.pitch import get_pitch_tracker

            get_pitch_tracker(None, self.models.device)

    async def play_midi(self, request: Request) -> Response:
        """A MIDI file (the body) played by a model; options in the query string."""
        from ..midi.controls import from_query as check_midi_options

        session = self.session(request)
        params = request.query_params
        name = clean_name(params.get("name"), "score.mid")
        model_id = params.get("model", "")
        if not model_id:
            raise HTTPError(400, "model: choose a model")
        plot = params.get("plot", "true")
        if plot not in ("true", "false"):
            raise HTTPError(400, f"plot: expected true or false, got {plot!r}")
        try:
            options = check_midi_options({k: v for k, v in params.items()
                                          if k not in MIDI_REQUEST_KEYS})
        except ValueError as exc:
            raise HTTPError(400, str(exc)) from None
        if model_id != _UPLOADED:
            self.models.describe_one(model_id)  # refuse an unknown name before queueing
        self._check_not_busy()
        number = session.next_number()
        path = session.folder / f"score-{number}.mid"
        try:
            await self.receive(request, session, path, self.limits.max_midi_mb, name,
                               "--max-midi-mb")  # before the lock, as audio
            async with session.lock:
                self.check_open(session)
                model = self._session_model(session, model_id)
                out = await self._run_job(session, self._play_work, path, name, model,
                                          model_id, options, session.folder, number,
                                          plot == "true")
                answer = {
                    "audio_url": self.file_url(session, session.add_file(out["output"])),
                    "download_name": f"{Path(name).stem or 'score'}-{out['model']}.wav",
                    "pictures": {key: self.file_url(session, session.add_file(p))
                                 for key, p in out["pictures"].items()},
                    **{k: v for k, v in out.items() if k not in ("output", "pictures")},
                }
        finally:
            path.unlink(missing_ok=True)
        return JSONResponse(answer)

    def _play_work(self, queued_at, path: Path, name: str, model, model_id: str, options: dict,
                   folder: Path, number: int, plot: bool) -> dict:
        """Read the score, check its length, load the model if needed, play it, write the
        result and the piano roll (worker thread)."""
        from dataclasses import replace

        from ..audio import save_audio
        from ..midi import OVERRIDES, part_voices, play_score, read_midi
        from ..midi.controls import READ_MIDI_KEYWORDS

        def named(message: str) -> str:
            return message.replace(str(path), name).replace(path.name, name)

        wait = time.perf_counter() - queued_at
        start = time.perf_counter()
        try:
            score = read_midi(path, **{k: options[k] for k in READ_MIDI_KEYWORDS})
        except ValueError as exc:
            raise HTTPError(400, named(str(exc))) from None
        limit = self.limits.max_midi_seconds
        if score.duration > limit:
            tempo = (f" at tempo scale {options['tempo_scale']:g}"
                     if options["tempo_scale"] != 1 else "")
            raise HTTPError(413, f"{name}: plays for {score.duration:.1f} s{tempo}, longer than "
                                 f"this server's limit of {limit:g} s (timbral serve "
                                 f"--max-midi-seconds)")
        n_voices = sum(len(part_voices(part)) for part in score.parts)
        if n_voices > self.limits.max_midi_voices:
            raise HTTPError(413, f"{name}: needs {n_voices} voices (notes sounding at once), "
                                 f"more than this server's limit of "
                                 f"{self.limits.max_midi_voices} (timbral serve "
                                 f"--max-midi-voices)")
        score = replace(score, path=name, messages=[named(m) for m in score.messages])
        timings = {"waiting": wait, "reading": time.perf_counter() - start}
        start = time.perf_counter()
        if model is None:
            model = self.models.get(model_id)
        if plot:
            self._warm_pitch_tracker()  # the picture measures the output's f0
        timings["model load"] = time.perf_counter() - start
        start = time.perf_counter()
        overrides = {k: options[k] for k in OVERRIDES}
        try:
            result = play_score(score, model, legato=options["legato"], overrides=overrides)
        except ValueError as exc:
            raise HTTPError(400, named(str(exc))) from None
        timings["synthesis"] = time.perf_counter() - start
        start = time.perf_counter()
        output = save_audio(folder / f"played-{number}.wav", result.audio, result.sample_rate)
        timings["writing"] = time.perf_counter() - start
        pictures = {}
        if plot:
            from ..midi.plot import plot_roll

            start = time.perf_counter()
            pictures["roll"] = plot_roll(result, folder / f"roll-{number}.png")
            timings["picture"] = time.perf_counter() - start
        timings["total"] = time.perf_counter() - queued_at
        return {"output": output, "pictures": pictures, "messages": list(result.messages),
                "timings": timings, "seconds": result.duration,
                "sample_rate": result.sample_rate, "samples": int(len(result.audio)),
                "model": getattr(model, "name", model_id), "notes": len(score.notes),
                "voices": len(result.voices),
                "tracks": [{"index": i, "name": n, "notes": k} for i, n, k in score.tracks]}

    def _work(self, queued_at, source, source_name, model, model_id, options, folder, number,
              plots, polyphonic=False) -> dict:
        """Load the model if needed, transfer, write the result and pictures (worker thread)."""
        from ..features.pitch import get_pitch_tracker
        from ..transcribe import PolyphonicTransfer
        from ..transfer.files import transfer_file

        wait = time.perf_counter() - queued_at
        start = time.perf_counter()
        if model is None:
            model = self.models.get(model_id)
        self._warm_pitch_tracker()  # transfer()'s (default) one
        load = time.perf_counter() - start
        pictures = {"notes": folder / f"notes-{number}.png",
                    "spectrograms": folder / f"spectrograms-{number}.png"} if plots else {}
        try:
            done = transfer_file(source, model, folder / f"output-{number}.wav", options,
                                 plot=pictures.get("notes"),
                                 spectrogram=pictures.get("spectrograms"), name=source_name,
                                 pitch_tracker=get_pitch_tracker(None, self.models.device),
                                 run=PolyphonicTransfer("auto" if polyphonic else "hint"))
        except ValueError as exc:
            raise HTTPError(400, str(exc).replace(str(source), source_name)) from None
        timings = {"waiting": wait, **done.timings}
        timings["model load"] += load  # with building the pitch tracker, the first time
        timings["total"] = time.perf_counter() - queued_at
        result = done.result
        return {"output": done.output_path, "pictures": pictures,
                "messages": list(result.messages), "timings": timings, "seconds": done.seconds,
                "sample_rate": result.sample_rate, "samples": int(len(result.audio)),
                "note_on_fraction": result.note_on_fraction,
                "model": getattr(model, "name", model_id)}

    async def file(self, request: Request) -> Response:
        session = self.session(request)
        name = request.path_params["name"]
        path = session.files.get(name) if _FILE_NAME.match(name) else None
        if path is None or not path.is_file():
            raise HTTPError(404, f"{name}: no such file on this page (it was replaced by a newer "
                                 f"one, or the session ended)")
        media = "audio/wav" if name.endswith(".wav") else "image/png"
        return FileResponse(path, media_type=media, headers={"cache-control": "private"})


def create_app(models: ModelStore, limits: Limits = Limits(), check_host: bool = True,
               root: Optional[Path] = None):
    """The ASGI application (Starlette, wrapped in the header/Host guard).

    Returns ``(asgi_app, state)``; ``state`` is the :class:`App` (its
    ``root`` is the temporary folder, removed at shutdown).
    """
    state = App(models, limits, root)

    def route(handler):
        async def wrapped(request: Request) -> Response:
            try:
                return await handler(request)
            except HTTPError as exc:
                return JSONResponse({"error": exc.message}, status_code=exc.status)
            except Exception as exc:  # a bug: say so in one line, log the traceback
                traceback.print_exc(file=sys.stderr)
                return JSONResponse({"error": one_line(f"internal error ({type(exc).__name__}: "
                                                       f"{exc}); see the server's terminal")},
                                    status_code=500)
        return wrapped

    @asynccontextmanager
    async def lifespan(app):
        async def reaper():
            while True:
                await asyncio.sleep(30)
                state.reap()

        task = asyncio.create_task(reaper())
        try:
            yield
        finally:
            task.cancel()
            state.shutdown()

    routes = [
        *[Route(url, route(state.page)) for url in PAGE_FILES],
        Route("/api/config", route(state.config)),
        Route("/api/session", route(state.create_session), methods=["POST"]),
        Route("/api/session/{sid}/close", route(state.close), methods=["POST"]),
        Route("/api/session/{sid}/audio", route(state.upload_audio), methods=["POST"]),
        Route("/api/session/{sid}/example", route(state.use_example), methods=["POST"]),
        Route("/api/session/{sid}/model", route(state.upload_model), methods=["POST"]),
        Route("/api/session/{sid}/transfer", route(state.run_transfer), methods=["POST"]),
        Route("/api/session/{sid}/midi", route(state.play_midi), methods=["POST"]),
        Route("/api/session/{sid}/files/{name}", route(state.file)),
    ]
    async def not_routed(request: Request, exc) -> Response:  # 404/405: JSON like the rest
        what = "no such address" if exc.status_code == 404 else \
            f"{request.method} is not accepted here"
        return JSONResponse({"error": f"{request.url.path}: {what}"}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    starlette = Starlette(routes=routes, lifespan=lifespan,
                          exception_handlers={404: not_routed, 405: not_routed})
    return Guard(starlette, check_host), state


def serve(host: str = "127.0.0.1", port: int = 8000, models: Sequence = (),
          limits: Limits = Limits(), announce=print, device: str = "cpu") -> None:
    """Run the app until interrupted (Ctrl+C); prints the address to open.

    ``port=0`` picks a free port. The listening socket is bound before the
    address is printed, so the address works as soon as it appears. ``device``:
    where the models and the pitch tracker run ("cpu" or "cuda").
    """
    import uvicorn

    store = ModelStore(models, device)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ValueError(f"cannot listen on {host}:{port} ({exc.strerror}); choose another "
                         f"--port, or --port 0 for any free one") from None
    sock.listen(128)
    sock.set_inheritable(True)
    bound_port = sock.getsockname()[1]
    loopback = is_loopback(host)
    app, state = create_app(store, limits, check_host=loopback)
    shown = f"[{host}]" if ":" in host else host
    if host in ("0.0.0.0", "::"):
        shown = "127.0.0.1"
    names = ", ".join(store.entries) or "none installed (upload a model zip in the page)"
    announce(f"timbral serve: models: {names}")
    announce(f"timbral serve: limits: uploads {limits.max_upload_mb:g} MB, model zips "
             f"{limits.max_model_mb:g} MB, {limits.max_seconds:g} s of audio, MIDI files "
             f"{limits.max_midi_mb:g} MB, {limits.max_midi_seconds:g} s and "
             f"{limits.max_midi_voices} voices, {limits.jobs} "
             f"transfer(s) at once")
    if not loopback:
        announce(f"timbral serve: warning: listening on {host}, not only this computer: anyone "
                 f"who can reach it on the network can use the app (other machines: "
                 f"http://{socket.gethostname() if host in ('0.0.0.0', '::') else shown}:"
                 f"{bound_port}/; browsers there allow no microphone over plain http)")
    announce(f"timbral serve: open http://{shown}:{bound_port}/ in a browser (Ctrl+C to stop)")
    config = uvicorn.Config(app, log_level="warning", access_log=False, server_header=False,
                            lifespan="on", timeout_graceful_shutdown=5)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
        state.shutdown()  # also when the lifespan never ran
