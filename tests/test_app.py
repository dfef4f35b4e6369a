"""`timbral serve`: the web app end to end, in a real headless Chromium, under load and abuse.

The server runs as a real process (``python -m timbral.app``, the same code as
``timbral serve``) on a free port, with TMPDIR pointed at a test folder so the
cleanup of its temporary files can be checked. The browser is Debian's
chromium driven through chromedriver's W3C WebDriver API (plain HTTP, no
client library); both come from requirements/browser-apt.txt, and this file
fails, not skips, when they are missing. The e2e test's screenshot is saved
under $TIMBRAL_TEST_ARTIFACTS (default: out/test-artifacts/ in the repository).
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("TIMBRAL_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("TIMBRAL_CHROMEDRIVER", "/usr/bin/chromedriver")
ARTIFACTS = Path(os.environ.get("TIMBRAL_TEST_ARTIFACTS", REPO / "out" / "test-artifacts"))
MB = 1_000_000


# ---------------------------------------------------------------------------- helpers
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _http(method: str, url: str, body=None, headers=None, timeout=120):
    """(status, parsed JSON or bytes) without raising on HTTP errors."""
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        headers = {"Content-Type": "application/json", **(headers or {})}
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, data, kind = response.status, response.read(), response.headers
    except urllib.error.HTTPError as exc:
        status, data, kind = exc.code, exc.read(), exc.headers
    if "application/json" in kind.get("content-type", ""):
        return status, json.loads(data)
    return status, data


def _tone(seconds, rate, hz, amplitude=0.4):
    t = np.arange(int(seconds * rate)) / rate
    f = hz * 2 ** (0.03 * np.sin(2 * np.pi * 5 * t))  # vibrato: a played note
    envelope = np.minimum(1.0, 8 * t) * np.minimum(1.0, 8 * (t[-1] - t) + 0.05)
    return (amplitude * envelope * np.sin(2 * np.pi * np.cumsum(f) / rate)).astype(np.float32)


def _make_model(folder: Path, seed: int, card: str) -> Path:
    """An untrained cpu-fast model with statistics from a synthetic note (about 1 s)."""
    import torch

    from timbral.data.statistics import compute_dataset_statistics
    from timbral.features import compute_audio_features
    from timbral.models import Autoencoder, preset_config, save_model_folder

    torch.manual_seed(seed)
    model = Autoencoder(preset_config("cpu-fast")).eval()
    features = compute_audio_features(_tone(3.0, 16000, 300 + 100 * seed), 16000,
                                      model.frame_rate)
    statistics = compute_dataset_statistics([features], model.frame_rate)
    return save_model_folder(folder, model, statistics, card)


#: Runs ``python -m timbral.app`` with an audit hook that records every name lookup
#: and outgoing connection the server process attempts (from imports to shutdown).
NETWORK_AUDIT = """
import os, runpy, sys
log = open(os.environ["TIMBRAL_NETWORK_LOG"], "a", buffering=1)
EVENTS = {"socket.connect", "socket.getaddrinfo", "socket.gethostbyname", "socket.sendto",
          "socket.gethostbyaddr", "urllib.Request", "http.client.connect"}
def hook(event, args):
    if event in EVENTS:
        log.write(f"{event} {args[1:] if event.startswith('socket.connect') else args!r}\\n")
sys.addaudithook(hook)
sys.argv[0] = "timbral.app"
runpy.run_module("timbral.app", run_name="__main__", alter_sys=True)
"""


class Server:
    """``python -m timbral.app`` in a subprocess; ``url`` once it has printed its address."""

    def __init__(self, args, tmpdir: Path):
        self.tmpdir = tmpdir
        self.network_log = tmpdir.parent / f"{tmpdir.name}-network.log"
        env = {**os.environ, "TMPDIR": str(tmpdir), "OMP_NUM_THREADS": "1",
               "PYTHONUNBUFFERED": "1", "TIMBRAL_NETWORK_LOG": str(self.network_log)}
        self.process = subprocess.Popen(
            [sys.executable, "-c", NETWORK_AUDIT, "--port", "0", *map(str, args)],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines = []
        deadline = time.monotonic() + 90
        self.url = None
        while self.url is None:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError("the server exited before printing its address:\n"
                                   + "".join(self.lines))
            self.lines.append(line)
            found = re.search(r"open (http://127\.0\.0\.1:\d+/) in a browser", line)
            if found:
                self.url = found.group(1)
            if time.monotonic() > deadline:
                raise RuntimeError("the server printed no address in 90 s")
        # Keep reading its output (tracebacks end up in the test report).
        threading.Thread(target=lambda: self.lines.extend(self.process.stdout),
                         daemon=True).start()

    def api(self, method, path, body=None, headers=None):
        return _http(method, self.url.rstrip("/") + path, body, headers)

    def session(self) -> str:
        status, answer = self.api("POST", "/api/session")
        assert status == 200, answer
        return answer["session"]

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


class Browser:
    """Headless Chromium through chromedriver's W3C WebDriver HTTP API."""

    ELEMENT = "element-6066-11e4-a52e-4f735466cecf"

    def __init__(self, profile: Path):
        for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
            if not os.access(path, os.X_OK):
                pytest.fail(f"{path} is missing: the browser test needs Debian's {package} "
                            f"(apt-get install -y $(cat requirements/browser-apt.txt)); "
                            f"scripts/setup.sh test installs it")
        port = _free_port()
        self.driver = subprocess.Popen([CHROMEDRIVER, f"--port={port}"],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if _http("GET", f"{self.base}/status", timeout=5)[1]["value"]["ready"]:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("chromedriver did not start")
            time.sleep(0.1)
        args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--no-default-browser-check",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-extensions", "--disable-features=Translate",
                "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                "--autoplay-policy=no-user-gesture-required", "--window-size=1280,1000",
                f"--user-data-dir={profile}"]
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome", "pageLoadStrategy": "normal",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args}}}}
        self.id = self._call("POST", "/session", caps)["sessionId"]

    def _call(self, method, path, body=None):
        status, answer = _http(method, self.base + path, body if body is not None else
                               ({} if method == "POST" else None))
        if status != 200:
            raise AssertionError(f"webdriver {method} {path}: {status} {answer}")
        return answer["value"]

    def cmd(self, method, path, body=None):
        return self._call(method, f"/session/{self.id}{path}", body)

    def get(self, url):
        self.cmd("POST", "/url", {"url": url})

    def find(self, css):
        return self.cmd("POST", "/element", {"using": "css selector", "value": css})[self.ELEMENT]

    def click(self, css):
        self.cmd("POST", f"/element/{self.find(css)}/click")

    def type(self, css, text):
        self.cmd("POST", f"/element/{self.find(css)}/value", {"text": text})

    def js(self, script, *args):
        return self.cmd("POST", "/execute/sync", {"script": script, "args": list(args)})

    def wait(self, script, timeout=60, what=""):
        deadline = time.monotonic() + timeout
        while True:
            value = self.js(script)
            if value:
                return value
            if time.monotonic() > deadline:
                error = self.js("return document.getElementById('error').textContent")
                raise AssertionError(f"timed out waiting for {what or script} (page error: "
                                     f"{error!r})")
            time.sleep(0.1)

    def screenshot(self, path: Path):
        height = self.js("return document.documentElement.scrollHeight")
        self.cmd("POST", "/window/rect", {"width": 1280, "height": int(height) + 140})
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(self.cmd("GET", "/screenshot")))
        return path

    def quit(self):
        try:
            self._call("DELETE", f"/session/{self.id}")
        finally:
            self.driver.terminate()
            self.driver.wait(10)


# ---------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("web_models")
    return {"cello-test": _make_model(folder / "cello-test", 0, "# cello-test\n\nUntrained."),
            "flute-test": _make_model(folder / "flute-test", 1,
                                      "# flute-test\n\nAn untrained test instrument.\n")}


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """Eight different clips: four formats, three sample rates, different notes and lengths."""
    folder = tmp_path_factory.mktemp("web_clips")
    out = []
    for i in range(8):
        ext, rate = [(".wav", 22050), (".flac", 16000), (".ogg", 44100), (".mp3", 32000)][i % 4]
        path = folder / f"clip{i}{ext}"
        sf.write(path, _tone(1.0 + 0.15 * i, rate, 220 * 2 ** (i / 7)), rate)
        out.append(path)
    return out


@pytest.fixture(scope="module")
def server(models, tmp_path_factory):
    tmpdir = tmp_path_factory.mktemp("web_tmp")
    srv = Server(["--model", models["cello-test"], "--model", models["flute-test"],
                  "--jobs", "2", "--max-upload-mb", "20", "--max-seconds", "30"], tmpdir)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def reference(models):
    """Transfers computed in this process, to compare the server's answers with."""
    from timbral.audio import load_audio
    from timbral.transfer import transfer
    from timbral.zoo import load_model

    loaded = {name: load_model(path) for name, path in models.items()}

    def run(clip, model, **options):
        audio, rate = load_audio(clip)
        result = transfer(audio, rate, loaded[model], **options)
        buffer = io.BytesIO()  # the server sends 16-bit WAV
        sf.write(buffer, np.clip(result.audio, -1, 1), result.sample_rate, format="WAV",
                 subtype="PCM_16")
        buffer.seek(0)
        return sf.read(buffer, dtype="float32")[0]

    return run


def _decode(data: bytes):
    return sf.read(io.BytesIO(data), dtype="float32")


def _assert_same_audio(got, expected):
    assert got.shape == expected.shape
    peak = float(np.abs(expected).max())
    assert peak > 1e-3  # the untrained models still make sound
    np.testing.assert_allclose(got, expected, atol=max(2e-3 * peak, 2 / 32768))


# ---------------------------------------------------------------------------- tests
def test_serve_command_line():
    import argparse

    from timbral.app import DEFAULTS, Limits
    from timbral.cli import serve

    parser = argparse.ArgumentParser(prog="timbral")
    serve.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["serve"])
    assert (args.host, args.port, args.model) == ("127.0.0.1", 8000, [])
    assert args.max_upload_mb == DEFAULTS["max_upload_mb"] < 200
    args = parser.parse_args(["serve", "--host", "0.0.0.0", "--port", "0", "--model", "a",
                              "--model", "b.zip", "--max-seconds", "10", "--jobs", "3"])
    assert (args.host, args.port, args.model, args.max_seconds, args.jobs) == (
        "0.0.0.0", 0, ["a", "b.zip"], 10.0, 3)
    with pytest.raises(ValueError, match="--max-upload-mb: expected a positive number"):
        Limits(max_upload_mb=0)
    with pytest.raises(ValueError, match="--jobs: expected an integer >= 1"):
        Limits(jobs=0)
    bad = subprocess.run([sys.executable, "-m", "timbral.app", "--port", "0", "--model",
                          "/no/such/model"], capture_output=True, text=True, cwd=REPO,
                         env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=120)
    assert bad.returncode == 2
    assert bad.stderr.startswith("timbral serve: error: --model /no/such/model: ")
    assert len(bad.stderr.strip().splitlines()) == 1


def test_browser_end_to_end(server, clips, reference, tmp_path):
    browser = Browser(tmp_path / "profile")
    try:
        browser.get(server.url)
        browser.wait("return document.body.dataset.ready === 'true'", 30, "the page to start")
        assert browser.js("return document.title") == "timbral: timbre transfer"

        # The microphone (Chromium's fake device plays a beep): record a second.
        browser.click("#record")
        browser.wait("return !document.getElementById('stop').disabled", 10, "recording")
        time.sleep(1.0)
        browser.click("#stop")
        info = browser.wait("return document.getElementById('input-info').textContent"
                            ".startsWith('recording.wav')", 30, "the recording's upload")
        seconds = float(browser.js("return document.getElementById('input-info')"
                                   ".dataset.seconds"))
        assert info and 0.5 < seconds < 5

        # Upload a file instead, pick the second model, move a slider, run.
        clip = clips[0]
        browser.type("#audio-file", str(clip))
        browser.wait(f"return document.getElementById('input-info').textContent"
                     f".startsWith('{clip.name}')", 30, "the clip's upload")
        browser.click("#model option[value='flute-test']")
        assert browser.js("return document.getElementById('model').value") == "flute-test"
        assert "untrained test instrument" in browser.js(
            "return document.getElementById('model-card').textContent")
        browser.type("#pitch_shift", "\ue014")  # ArrowRight: one step up, +1 octave
        assert browser.js("return document.getElementById('pitch_shift').value") == "1"
        assert browser.js("return document.getElementById('pitch_shift-value').value") == "1"
        browser.click("#run")
        browser.wait("const a = document.getElementById('output-audio');"
                     "return !document.getElementById('output-section').hidden && "
                     "a.readyState >= 1 && a.duration > 0", 120, "the output audio")
        duration = browser.js("return document.getElementById('output-audio').duration")
        expected_seconds = sf.info(str(clip)).duration
        assert abs(duration - expected_seconds) < 0.01
        browser.wait("return [...document.images].filter(i => i.id.endsWith('-plot'))"
                     ".every(i => i.complete && i.naturalWidth > 100)", 30, "the plots")
        timings = browser.js("return [...document.querySelectorAll('#timings td')]"
                             ".map(td => td.textContent)")
        assert {"features", "synthesis", "total", "speed"} <= set(timings[::2])
        assert browser.js("return document.getElementById('error').hidden")
        shot = browser.screenshot(ARTIFACTS / "web_e2e.png")
        assert shot.stat().st_size > 20_000

        # Nothing was fetched from anywhere but the app itself.
        resources = browser.js("return performance.getEntriesByType('resource')"
                               ".map(e => e.name)")
        assert resources and all(r.startswith(server.url) for r in resources), resources

        # The served result decodes to audio of the right length, made with the chosen
        # model and the moved slider.
        audio_url = browser.js("return document.getElementById('download').href")
        download = browser.js("return document.getElementById('download').download")
        assert download == f"{clip.stem}-flute-test.wav"
        status, data = _http("GET", audio_url)
        assert status == 200
        audio, rate = _decode(data)
        assert rate == 16000 and len(audio) == len(reference(clip, "flute-test"))
        _assert_same_audio(audio, reference(clip, "flute-test", pitch_shift=1.0))
        assert not np.allclose(audio, reference(clip, "flute-test"), atol=1e-3)
    finally:
        browser.quit()


def test_eight_concurrent_transfers(server, clips, reference):
    shifts = [-1.0, 0.0, 1.0, 0.0, 0.0, -1.0, 1.0, 0.0]

    def one(i):
        sid = server.session()
        clip = clips[i]
        status, info = server.api("POST", f"/api/session/{sid}/audio?name={clip.name}",
                                  clip.read_bytes())
        assert status == 200, info
        model = ["cello-test", "flute-test"][i % 2]
        status, answer = server.api("POST", f"/api/session/{sid}/transfer", {
            "model": model, "pitch_shift": shifts[i], "loudness_shift": -2.0 * i,
            "plots": i % 2 == 0})
        assert status == 200, answer
        status, data = server.api("GET", answer["audio_url"])
        assert status == 200
        for url in answer["pictures"].values():
            assert server.api("GET", url)[1][:4] == b"\x89PNG"
        return answer, _decode(data)[0]

    start = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(8)))
    elapsed = time.perf_counter() - start
    for i, (answer, audio) in enumerate(results):
        model = ["cello-test", "flute-test"][i % 2]
        assert answer["model"] == model
        assert bool(answer["pictures"]) == (i % 2 == 0)
        assert answer["samples"] == len(audio)
        _assert_same_audio(audio, reference(clips[i], model, pitch_shift=shifts[i],
                                            loudness_shift=-2.0 * i))
    print(f"8 concurrent transfers: {elapsed:.1f} s")


def test_refusals_and_the_server_keeps_serving(server, clips, models, tmp_path):
    sid = server.session()
    audio = f"/api/session/{sid}/audio"
    # 200 MB: refused with the limit named (the body is read to its end, so the answer
    # reaches the client instead of a reset connection).
    status, answer = server.api("POST", f"{audio}?name=huge.wav", bytes(200 * MB))
    assert status == 413
    assert answer["error"] == ("huge.wav: 200 MB is larger than this server's limit of 20 MB "
                               "(timbral serve --max-upload-mb)")
    status, answer = server.api("POST", f"{audio}?name=notes.txt", b"not audio at all\n" * 50)
    assert status == 400 and answer["error"].startswith("notes.txt: cannot decode audio")
    status, answer = server.api("POST", f"{audio}?name=empty.wav", b"")
    assert (status, answer["error"]) == (400, "empty.wav: the file is empty")
    long_clip = tmp_path / "long.flac"
    sf.write(long_clip, np.zeros(31 * 8000, np.float32), 8000)
    status, answer = server.api("POST", f"{audio}?name=long.flac", long_clip.read_bytes())
    assert status == 413 and "31.0 s of audio is longer than this server's limit of 30 s" \
        in answer["error"]
    status, answer = server.api("POST", f"/api/session/{sid}/transfer", {"model": "flute-test"})
    assert (status, answer["error"]) == (400, "no audio yet: record or upload a clip first")

    # Model zips: validated by load_model (zip checks, no unpickling); the message names
    # the upload, not the server's temporary path.
    model = f"/api/session/{sid}/model"
    status, answer = server.api("POST", f"{model}?name=model.zip", b"PK\x03\x04 broken")
    assert status == 400 and answer["error"].startswith("model.zip: not a readable zip file")
    assert str(server.tmpdir) not in answer["error"]
    evil = io.BytesIO()
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("../escape/config.json", "{}")
    status, answer = server.api("POST", f"{model}?name=evil.zip", evil.getvalue())
    assert status == 400 and "refusing entry '../escape/config.json'" in answer["error"]
    status, answer = server.api("POST", f"{model}?name=weights.bin", b"x")
    assert status == 400 and "upload a model as a .zip" in answer["error"]
    good = io.BytesIO()
    with zipfile.ZipFile(good, "w") as z:
        for path in models["flute-test"].iterdir():
            z.write(path, f"my-flute/{path.name}")
    status, answer = server.api("POST", f"{model}?name=my-flute.zip", good.getvalue())
    assert status == 200 and (answer["id"], answer["name"]) == ("uploaded", "my-flute")

    # Bad options are refused with transfer()'s own messages.
    status, _ = server.api("POST", f"{audio}?name={clips[1].name}", clips[1].read_bytes())
    assert status == 200
    transfer = f"/api/session/{sid}/transfer"
    status, answer = server.api("POST", transfer, {"model": "uploaded", "threshold": 5})
    assert status == 400 and answer["error"].startswith("threshold")
    status, answer = server.api("POST", transfer, {"model": "violin-of-nobody"})
    assert status == 400 and "not offered here" in answer["error"]
    status, answer = server.api("POST", transfer, {"model": "uploaded", "quiet": "loud"})
    assert (status, answer["error"]) == (400, "quiet: expected a number, got 'loud'")

    # Still serving: the uploaded model transfers, the page loads.
    status, answer = server.api("POST", transfer, {"model": "uploaded", "plots": False})
    assert status == 200 and answer["model"] == "my-flute"
    status, page = server.api("GET", "/")
    assert status == 200 and b"<title>timbral: timbre transfer</title>" in page


def test_sessions_are_private_and_cleaned_up(server, clips):
    alice, bob = server.session(), server.session()
    assert alice != bob
    status, info = server.api("POST", f"/api/session/{alice}/audio?name=a.wav",
                              clips[0].read_bytes())
    assert status == 200
    name = info["url"].rsplit("/", 1)[1]
    assert server.api("GET", info["url"])[0] == 200
    assert server.api("GET", f"/api/session/{bob}/files/{name}")[0] == 404
    assert server.api("GET", f"/api/session/{'x' * 24}/files/{name}")[0] == 404
    assert server.api("GET", f"/api/session/{alice}/files/..%2F{bob}")[0] == 404
    roots = list(server.tmpdir.glob("timbral-web-*"))
    assert len(roots) == 1 and (roots[0] / alice).is_dir()
    status, example = server.api("POST", f"/api/session/{bob}/example")  # the shipped clip
    assert status == 200 and example["name"] == "clarinet.flac" and example["seconds"] > 1
    status, bobs = server.api("GET", example["url"])
    assert status == 200 and _decode(bobs)[0].shape[0] > 16000
    assert server.api("GET", example["url"].replace(bob, alice))[1] != bobs  # alice's own
    assert server.api("POST", f"/api/session/{alice}/close")[0] == 200
    assert not (roots[0] / alice).exists()
    assert server.api("GET", info["url"])[0] == 404
    assert server.api("GET", example["url"])[1] == bobs


def test_offline_and_loopback_only(server):
    status, page = server.api("GET", "/")
    for path in ("/", "/app.js", "/app.css"):
        _, text = server.api("GET", path)
        # No outside addresses in the page (a CDN, fonts, analytics).
        assert not re.search(rb"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text), path
    request = urllib.request.Request(server.url)
    with urllib.request.urlopen(request) as response:
        policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "connect-src 'self'" in policy
    # Another site's page reaching the app through a rebound DNS name is turned away.
    status, answer = server.api("GET", "/api/config", headers={"Host": "evil.example:80"})
    assert status == 400 and "Host" in answer["error"]
    assert server.url.startswith("http://127.0.0.1:")


def test_shutdown_removes_temporary_files(server):
    assert list(server.tmpdir.glob("timbral-web-*"))
    assert server.stop() == 0
    # From its imports to its shutdown, after every test above, the server process looked
    # up no name and connected nowhere (no update checks, no analytics).
    attempts = server.network_log.read_text() if server.network_log.exists() else ""
    assert attempts == "", attempts
    assert not list(server.tmpdir.iterdir())
    assert not any("Traceback" in line for line in server.lines), "".join(server.lines)
