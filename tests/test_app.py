"""`timbral serve`: the web app end to end, in a real headless Chromium, under load and abuse.

The server runs as a real process (``python -m timbral.app``, the same code as
``timbral serve``) on a free port, with TMPDIR pointed at a test folder so the
cleanup of its temporary files can be checked. The browser is Debian's
chromium driven by selenium through Debian's chromedriver; both come from
requirements/browser-apt.txt, and this file fails, not skips, when they are
missing. The e2e test's screenshot is saved under $TIMBRAL_TEST_ARTIFACTS
(default: out/test-artifacts/ in the repository).
"""

from __future__ import annotations

import http.server
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
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
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service as ChromeService
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("TIMBRAL_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("TIMBRAL_CHROMEDRIVER", "/usr/bin/chromedriver")
ARTIFACTS = Path(os.environ.get("TIMBRAL_TEST_ARTIFACTS", REPO / "out" / "test-artifacts"))
MB = 1_000_000


# ---------------------------------------------------------------------------- helpers
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
    """Headless Chromium driven by selenium through Debian's chromedriver.

    The driver's path is given, so Selenium Manager (which may download
    drivers) never runs.
    """

    def __init__(self, profile: Path):
        for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
            if not os.access(path, os.X_OK):
                pytest.fail(f"{path} is missing: the browser test needs Debian's {package} "
                            f"(apt-get install -y $(cat requirements/browser-apt.txt)); "
                            f"scripts/setup.sh test installs it")
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        options.page_load_strategy = "normal"
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--no-default-browser-check",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--disable-extensions", "--disable-features=Translate",
                    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                    "--autoplay-policy=no-user-gesture-required", "--window-size=1280,1000",
                    f"--user-data-dir={profile}"):
            options.add_argument(arg)
        self.driver = webdriver.Chrome(options=options,
                                       service=ChromeService(executable_path=CHROMEDRIVER))

    def get(self, url):
        self.driver.get(url)

    def find(self, css):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def click(self, css):
        self.find(css).click()

    def type(self, css, text):
        self.find(css).send_keys(text)

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def wait(self, script, timeout=60, what=""):
        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.1).until(
                lambda driver: driver.execute_script(script))
        except TimeoutException:
            error = self.js("return document.getElementById('error').textContent")
            raise AssertionError(f"timed out waiting for {what or script} (page error: "
                                 f"{error!r})") from None

    def screenshot(self, path: Path):
        height = self.js("return document.documentElement.scrollHeight")
        self.driver.set_window_size(1280, int(height) + 140)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.driver.save_screenshot(str(path))
        return path

    def quit(self):
        self.driver.quit()


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
                  "--jobs", "2", "--max-upload-mb", "20", "--max-model-mb", "20",
                  "--max-seconds", "30", "--max-midi-mb", "1", "--max-midi-seconds", "60",
                  "--max-midi-voices", "8"],
                 tmpdir)
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


#: The melody of notes.mid: (MIDI key, onset s, offset s) at 120 bpm (a beat is 0.5 s).
MELODY = ((69, 0.0, 0.5), (76, 0.75, 1.25), (64, 1.5, 2.0))


def _midi_file(path: Path, notes=MELODY, name="melody", channel=0) -> Path:
    """A type 1 MIDI file written with mido: track 0 holds the tempo (no notes), track 1
    ``name`` plays ``notes`` (key, onset, offset in seconds at 120 bpm) on ``channel``."""
    import mido

    midi = mido.MidiFile(type=1, ticks_per_beat=480)
    conductor, melody = mido.MidiTrack(), mido.MidiTrack()
    midi.tracks += [conductor, melody]
    conductor.append(mido.MetaMessage("set_tempo", tempo=500_000, time=0))
    melody.append(mido.MetaMessage("track_name", name=name, time=0))
    events = sorted([(on, "note_on", key, 100) for key, on, _ in notes]
                    + [(off, "note_off", key, 0) for key, _, off in notes])
    tick = 0
    for seconds, kind, key, velocity in events:
        at = int(round(seconds * 960))  # 960 ticks a second at 120 bpm
        melody.append(mido.Message(kind, note=key, velocity=velocity, channel=channel,
                                   time=at - tick))
        tick = at
    midi.save(str(path))
    return path


@pytest.fixture(scope="module")
def midi_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("web_midi")
    empty = folder / "empty.mid"
    _midi_file(empty, notes=())
    return {"notes": _midi_file(folder / "notes.mid"), "empty": empty,
            "long": _midi_file(folder / "long.mid", notes=((60, 0.0, 1.0), (62, 99.0, 100.0))),
            "cluster": _midi_file(folder / "cluster.mid",
                                  notes=[(48 + k, 0.0, 1.0) for k in range(12)])}


def _f0_midi(audio, rate):
    """The f0 (MIDI, 100 frames a second) and its confidence, by the project's pitch tracker."""
    import torch

    from timbral.core import hz_to_midi
    from timbral.features import compute_audio_features

    features = compute_audio_features(audio, rate, 100)
    return (hz_to_midi(torch.from_numpy(features["f0_hz"])).numpy(),
            features["f0_confidence"])


def _assert_plays(audio, rate, notes, transpose=0.0, tolerance=0.25):
    """Each note's f0 (median over the note, less its first 0.15 s and last 0.05 s) lies
    within ``tolerance`` semitones of the written key + ``transpose``, confidently tracked."""
    f0, confidence = _f0_midi(audio, rate)
    for key, onset, offset in notes:
        frames = slice(int((onset + 0.15) * 100), int((offset - 0.05) * 100))
        assert abs(float(np.median(f0[frames])) - (key + transpose)) < tolerance, (key, onset)
        assert float(np.median(confidence[frames])) > 0.9, (key, onset)


def _decode(data: bytes):
    return sf.read(io.BytesIO(data), dtype="float32")


def _assert_same_audio(got, expected):
    assert got.shape == expected.shape
    peak = float(np.abs(expected).max())
    assert peak > 1e-3  # the untrained models still make sound
    np.testing.assert_allclose(got, expected, atol=max(2e-3 * peak, 2 / 32768))


def _sessions(server) -> set:
    """The ids of the server's sessions: the folders in its temporary folder."""
    (root,) = server.tmpdir.glob("timbral-web-*")
    return {p.name for p in root.iterdir() if p.is_dir()}


def _peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory so far (Linux /proc), MB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1000


def _model_zip(folder: Path, config_change=None) -> bytes:
    """A model folder zipped as a user would (one folder inside); ``config_change``
    edits its config.json first."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for path in folder.iterdir():
            data = path.read_bytes()
            if path.name == "config.json" and config_change:
                config = json.loads(data)
                config_change(config)
                data = json.dumps(config).encode()
            z.writestr(f"my-model/{path.name}", data)
    return buffer.getvalue()


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
    args = parser.parse_args(["serve", "--max-midi-mb", "2", "--max-midi-seconds", "90"])
    assert (args.max_midi_mb, args.max_midi_seconds) == (2.0, 90.0)
    assert DEFAULTS["max_midi_seconds"] == 600
    with pytest.raises(ValueError, match="--max-upload-mb: expected a positive number"):
        Limits(max_upload_mb=0)
    with pytest.raises(ValueError, match="--max-midi-seconds: expected a positive number"):
        Limits(max_midi_seconds=0)
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
        # The controls are built from the one table, in its order; auto-adjust's own
        # controls follow its switch.
        from timbral.transfer.controls import CONTROLS

        assert browser.js("return [...document.querySelectorAll('#switches input, #sliders "
                          "input')].map(i => i.id)") == [c.name for c in CONTROLS]
        adjust_only = [c.name for c in CONTROLS if c.adjust_only]
        assert adjust_only == ["quiet", "autotune"]
        disabled = "return arguments[0].map(id => document.getElementById(id).disabled)"
        assert browser.js(disabled, adjust_only) == [False, False]
        browser.click("#adjust")
        assert browser.js(disabled, adjust_only) == [True, True]
        browser.click("#adjust")
        assert browser.js(disabled, adjust_only) == [False, False]
        browser.type("#pitch_shift", Keys.ARROW_RIGHT)  # one step up: +1 octave
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


def test_a_stalled_upload_holds_up_nothing_else(server, clips):
    """An upload that declares 100 kB and sends 1 kB: a second upload to the same page is
    refused at once (429), the page's other requests answer, and once the first client
    leaves the page takes uploads again (the body used to be received under the page's
    lock, holding everything up until the client gave up)."""
    sid = server.session()
    audio = f"/api/session/{sid}/audio"
    host = server.url.split("//")[1].rstrip("/")
    stalled = socket.create_connection(tuple([host.split(":")[0], int(host.split(":")[1])]))
    try:
        stalled.sendall(f"POST {audio}?name=slow.wav HTTP/1.1\r\nHost: {host}\r\n"
                        f"Content-Length: 100000\r\n\r\n".encode() + bytes(1000))
        time.sleep(0.5)  # the server is now waiting for the rest
        start = time.monotonic()
        status, answer = server.api("POST", f"{audio}?name=a.wav", clips[0].read_bytes())
        assert (status, answer["error"]) == (429, "a.wav: another upload to this page is "
                                                  "still arriving; send this one when it has")
        assert server.api("GET", "/api/config")[0] == 200
        assert time.monotonic() - start < 5.0
    finally:
        stalled.close()
    time.sleep(0.5)
    status, answer = server.api("POST", f"{audio}?name=a.wav", clips[0].read_bytes())
    assert status == 200, answer


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
    status, answer = server.api("POST", f"{audio}?name=form.wav", b"--x\r\n\r\n--x--",
                                {"Content-Type": "multipart/form-data; boundary=x"})
    assert (status, answer["error"]) == (400, "form.wav: send the file's bytes as the request "
                                              "body, not a form")
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
    # A zip bomb: 60 KB that expands to 60 MB (the server takes 20): refused from the
    # sizes the zip declares, before anything is extracted.
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("my-model/model.safetensors", "w") as member:
            for _ in range(60):
                member.write(bytes(MB))
    assert len(bomb.getvalue()) < 100_000
    peak = _peak_rss_mb(server.process.pid)
    status, answer = server.api("POST", f"{model}?name=bomb.zip", bomb.getvalue())
    assert (status, answer["error"]) == (413, "bomb.zip: expands to 60 MB, more than this "
                                              "server's limit of 20 MB (timbral serve "
                                              "--max-model-mb)")
    # A 3 MB model whose config asks for a huge network: refused from its config.json
    # before extraction or building (the server's memory does not move).
    huge = _model_zip(models["flute-test"], lambda c: c["decoder"]["config"].update(ch=20000))
    status, answer = server.api("POST", f"{model}?name=huge.zip", huge)
    assert status == 400 and answer["error"].startswith("huge.zip: my-model/config.json: ")
    assert "839 M parameters" in answer["error"]  # models.config's bound
    big = _model_zip(models["flute-test"], lambda c: c["decoder"]["config"].update(ch=1500))
    status, answer = server.api("POST", f"{model}?name=big.zip", big)
    assert (status, answer["error"]) == (413, "big.zip: my-model/config.json: describes a "
                                              "model of about 30 MB, more than this server's "
                                              "limit of 20 MB (timbral serve --max-model-mb)")
    assert _peak_rss_mb(server.process.pid) < peak + 50
    # nothing of them is left on disk: no extracted folder, no upload
    leftovers = [p for p in server.tmpdir.rglob("*")
                 if p.name.startswith(("model-", "timbral-model-"))]
    assert leftovers == []

    status, answer = server.api("POST", f"{model}?name=my-flute.zip",
                                _model_zip(models["flute-test"]))
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
    status, answer = server.api("POST", transfer, {"model": "uploaded", "adjust": "yes"})
    assert (status, answer["error"]) == (400, "adjust: expected true or false, got 'yes'")
    status, answer = server.api("POST", transfer, {"model": "uploaded", "octaves": 1})
    assert status == 400 and answer["error"].startswith("unknown control(s): octaves")
    status, answer = server.api("POST", transfer, b"[" * 30_000 + b"]" * 30_000)
    assert (status, answer["error"]) == (400, "expected the transfer options as JSON")
    status, answer = server.api("POST", transfer, b"[" * 100_000 + b"]" * 100_000)
    assert (status, answer["error"]) == (413, "the options are 200000 bytes; at most 65536 "
                                              "are read")
    status, answer = server.api("POST", transfer, b'{"model": "violin", "gate": 1' + b"0" * 400
                                + b"}")  # an integer past float's range
    assert (status, answer["error"]) == (400, "gate: expected a finite number from 0 to 1, "
                                              "got inf")
    status, answer = server.api("POST", transfer, b'{"model": "violin", "\\ud800": 1, "'
                                + b"k" * 5000 + b'": 1}')  # a lone surrogate, a long name
    assert status == 400 and answer["error"].startswith("unknown control(s): ")
    assert len(answer["error"]) <= 400 and answer["error"].endswith("...")
    status, answer = server.api("POST", transfer, b'{"model": "violin", "\\ud800": 1}')
    assert status == 400 and answer["error"].startswith("unknown control(s): \\ud800;")
    assert server.api("GET", "/api/nowhere") == (404, {"error": "/api/nowhere: no such address"})
    assert server.api("GET", transfer) == (405, {"error": f"{transfer}: GET is not accepted "
                                                          f"here"})

    # An upload the client drops half-way leaves no part-file behind.
    host, port = server.url.split("//")[1].rstrip("/").split(":")
    before = sorted(p.name for p in server.tmpdir.rglob("source-*"))
    with socket.create_connection((host, int(port))) as raw:
        raw.sendall(f"POST {audio}?name=cut.wav HTTP/1.1\r\nHost: {host}:{port}\r\n"
                    f"Content-Length: 1000000\r\n\r\n".encode() + bytes(50_000))
        time.sleep(0.3)
    deadline = time.time() + 5
    while sorted(p.name for p in server.tmpdir.rglob("source-*")) != before \
            and time.time() < deadline:
        time.sleep(0.1)
    assert sorted(p.name for p in server.tmpdir.rglob("source-*")) == before

    # Still serving: the uploaded model transfers, the page loads.
    status, answer = server.api("POST", transfer, {"model": "uploaded", "plots": False})
    assert status == 200 and answer["model"] == "my-flute"
    status, page = server.api("GET", "/")
    assert status == 200 and b"<title>timbral: timbre transfer</title>" in page


def test_midi_options_are_the_librarys():
    """The page's MIDI options: every ``timbral play`` expression override (from the one
    OVERRIDES table, with its bounds) and the score options, whose bounds are those
    read_midi accepts; the server checks them with one-line messages."""
    import inspect

    from timbral.midi import OVERRIDES, play_score, read_midi
    from timbral.midi.controls import OPTIONS
    from timbral.midi.controls import from_query as check_midi_options

    options = {o.name: o for o in OPTIONS}
    assert list(options) == ["track", "channel", "transpose", "tempo_scale", "legato",
                             *OVERRIDES]
    for name, (unit, low, high, _) in OVERRIDES.items():
        assert (options[name].kind, options[name].unit, options[name].minimum,
                options[name].maximum, options[name].default) == ("override", unit, low, high,
                                                                  None)
    keywords = set(inspect.signature(read_midi).parameters) | set(
        inspect.signature(play_score).parameters)
    assert {"track", "channel", "transpose", "tempo_scale", "legato"} <= keywords
    assert check_midi_options({}) == {name: o.default for name, o in options.items()}
    assert check_midi_options({"track": "1", "transpose": "-2.5", "legato": "true",
                               "vibrato": "0", "scoop": ""}) == {
        **{name: o.default for name, o in options.items()}, "track": 1, "transpose": -2.5,
        "legato": True, "vibrato": 0.0}
    for values, message in (({"track": "x"}, "track: expected a whole number, got 'x'"),
                            ({"transpose": "up"}, "transpose: expected a number, got 'up'"),
                            ({"legato": "yes"}, "legato: expected true or false, got 'yes'"),
                            ({"vibrato": "500"},
                             "vibrato: expected a finite number from 0 to 200 cents, got 500"),
                            ({"octaves": "1"}, "unknown option(s): octaves; the MIDI options "
                                               "are track, channel, transpose, tempo_scale")):
        with pytest.raises(ValueError) as error:
            check_midi_options(values)
        assert str(error.value).startswith(message)
    # read_midi takes the bounds and refuses beyond them, as the server does.
    def refused_by_read_midi(path, name, value) -> bool:
        try:
            read_midi(path, **{name: value})
        except ValueError as exc:  # channel 16 of this file: no notes, but a valid channel
            return str(exc).startswith(f"{name}: expected")
        return False

    with tempfile.TemporaryDirectory() as folder:
        path = _midi_file(Path(folder) / "a.mid")
        for name in ("channel", "transpose", "tempo_scale"):
            o = options[name]
            kind, step = (int, 1) if o.kind == "int" else (float, 0.01)
            for value, beyond in ((o.minimum, o.minimum - step), (o.maximum, o.maximum + step)):
                assert check_midi_options({name: str(kind(value))})[name] == value
                assert not refused_by_read_midi(path, name, kind(value)), (name, value)
                with pytest.raises(ValueError, match=f"^{name}: expected a (whole|finite) number from"):
                    check_midi_options({name: str(kind(beyond))})
                assert refused_by_read_midi(path, name, kind(beyond)), (name, beyond)


def test_midi_file_plays_its_notes(server, midi_files, models):
    """A MIDI file made with mido, played by an offered model and by the page's uploaded
    one: the WAV's f0 follows the written notes (transposed) within 0.25 semitones, and
    the piano roll comes as a PNG."""
    sid = server.session()
    data = midi_files["notes"].read_bytes()
    midi = f"/api/session/{sid}/midi"
    status, answer = server.api("POST", f"{midi}?name=notes.mid&model=flute-test&transpose=2"
                                        f"&vibrato=0&scoop=0", data)
    assert status == 200, answer
    assert (answer["model"], answer["notes"], answer["voices"]) == ("flute-test", 3, 1)
    assert answer["tracks"] == [{"index": 0, "name": "", "notes": 0},
                                {"index": 1, "name": "melody", "notes": 3}]
    assert answer["download_name"] == "notes-flute-test.wav"
    assert any(m.startswith("3 notes in 1 part(s) -> 1 voice(s)") for m in answer["messages"])
    assert {"reading", "model load", "synthesis", "picture", "total"} <= set(answer["timings"])
    status, wav = server.api("GET", answer["audio_url"])
    assert status == 200 and wav[:4] == b"RIFF"
    audio, rate = _decode(wav)
    assert rate == answer["sample_rate"] == 16000 and len(audio) == answer["samples"]
    assert len(audio) / rate == pytest.approx(answer["seconds"]) and 2.0 < answer["seconds"] < 3
    _assert_plays(audio, rate, MELODY, transpose=2)
    status, png = server.api("GET", answer["pictures"]["roll"])
    assert status == 200 and png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000

    # The page's own uploaded model; track 1 and channel 1 are the melody; no picture asked.
    status, _ = server.api("POST", f"/api/session/{sid}/model?name=my-cello.zip",
                           _model_zip(models["cello-test"]))
    assert status == 200
    status, answer = server.api("POST", f"{midi}?name=notes.mid&model=uploaded&track=1"
                                        f"&channel=1&vibrato=0&scoop=0&plot=false", data)
    assert status == 200, answer
    assert (answer["model"], answer["notes"], answer["pictures"]) == ("my-cello", 3, {})
    _assert_plays(*_decode(server.api("GET", answer["audio_url"])[1]), MELODY)
    # no uploaded score is kept
    assert not [p for p in server.tmpdir.rglob("score-*")]


def test_midi_refusals(server, midi_files, clips, tmp_path):
    """Each bad MIDI request gets one line, naming the upload (never a server path), and
    its HTTP status; the server keeps serving."""
    sid = server.session()
    midi = f"/api/session/{sid}/midi"
    notes = midi_files["notes"].read_bytes()
    for query, body, expected in (
            ("name=song.mid&model=flute-test", b"not a MIDI file at all\n" * 10,
             (400, "song.mid: not a readable standard MIDI file (")),
            (f"name={clips[0].name}&model=flute-test", clips[0].read_bytes(),
             (400, f"{clips[0].name}: not a readable standard MIDI file (")),
            ("name=empty.mid&model=flute-test", midi_files["empty"].read_bytes(),
             (400, "empty.mid: no notes to play (tracks with notes: none; channels none)")),
            ("name=notes.mid&model=flute-test&track=5", notes,
             (400, "track 5: notes.mid has tracks 0..1")),
            ("name=notes.mid&model=flute-test&track=0", notes,
             (400, "track 0: no notes to play (tracks with notes: 1 'melody' (3 notes); "
                   "channels [1])")),
            ("name=notes.mid&model=flute-test&channel=3", notes,
             (400, "channel 3: no notes to play (tracks with notes: 1 'melody' (3 notes); "
                   "channels [1])")),
            ("name=notes.mid&model=flute-test&channel=17", notes,
             (400, "channel: expected a whole number from 1 to 16, got 17")),
            ("name=notes.mid&model=flute-test&transpose=up", notes,
             (400, "transpose: expected a number, got 'up'")),
            ("name=notes.mid&model=flute-test&vibrato=500", notes,
             (400, "vibrato: expected a finite number from 0 to 200 cents, got 500")),
            ("name=notes.mid&model=flute-test&octaves=1", notes,
             (400, "unknown option(s): octaves; the MIDI options are track, channel, ")),
            ("name=notes.mid&model=violin-of-nobody", notes,
             (400, "model 'violin-of-nobody': not offered here; choose one of ")),
            ("name=notes.mid&model=uploaded", notes,
             (400, "no model zip uploaded on this page; upload one or pick a shipped model")),
            ("name=notes.mid", notes, (400, "model: choose a model")),
            ("name=empty-file.mid&model=flute-test", b"", (400, "empty-file.mid: the file is "
                                                              "empty")),
            ("name=big.mid&model=flute-test", bytes(2 * MB),
             (413, "big.mid: 2.0 MB is larger than this server's limit of 1.0 MB (timbral "
                   "serve --max-midi-mb)")),
            ("name=long.mid&model=flute-test", midi_files["long"].read_bytes(),
             (413, "long.mid: plays for 100.0 s, longer than this server's limit of 60 s "
                   "(timbral serve --max-midi-seconds)")),
            ("name=cluster.mid&model=flute-test", midi_files["cluster"].read_bytes(),
             (413, "cluster.mid: needs 12 voices (notes sounding at once), more than this "
                   "server's limit of 8 (timbral serve --max-midi-voices)")),
    ):
        status, answer = server.api("POST", f"{midi}?{query}", body)
        assert status == expected[0] and answer["error"].startswith(expected[1]), (query, answer)
        assert "\n" not in answer["error"] and str(server.tmpdir) not in answer["error"]
        assert "score-" not in answer["error"]
    # The limit is on the score as played: slower is longer.
    status, answer = server.api("POST", f"{midi}?name=notes.mid&model=flute-test"
                                        f"&tempo_scale=0.03", notes)
    assert (status, answer["error"]) == (400, "tempo_scale: expected a finite number from 0.05 to "
                                              "20, got 0.03")
    long_notes = _midi_file(tmp_path / "slow.mid", notes=((60, 0.0, 4.0),))
    status, answer = server.api("POST", f"{midi}?name=slow.mid&model=flute-test"
                                        f"&tempo_scale=0.05", long_notes.read_bytes())
    assert (status, answer["error"]) == (413, "slow.mid: plays for 80.0 s at tempo scale 0.05, "
                                              "longer than this server's limit of 60 s "
                                              "(timbral serve --max-midi-seconds)")
    # Still serving.
    status, answer = server.api("POST", f"{midi}?name=notes.mid&model=flute-test&plot=false",
                                notes)
    assert status == 200 and answer["notes"] == 3
    assert not [p for p in server.tmpdir.rglob("score-*")]


def test_browser_plays_a_midi_file(server, midi_files, tmp_path):
    """In the page: choose a MIDI file instead of audio, set its options (built from the
    one table), play it: an audio player with the notes and the piano roll; a channel
    without notes shows the server's one-line message."""
    from timbral.midi.controls import OPTIONS

    browser = Browser(tmp_path / "profile")
    try:
        browser.get(server.url)
        browser.wait("return document.body.dataset.ready === 'true'", 30, "the page to start")
        assert browser.js("return document.getElementById('midi-controls').hidden")
        browser.click("#model option[value='flute-test']")
        browser.type("#midi-file", str(midi_files["notes"]))
        browser.wait("return document.getElementById('midi-info').textContent"
                     ".startsWith('notes.mid')", 10, "the MIDI file's choice")
        assert browser.js("return [document.getElementById('audio-controls').hidden, "
                          "document.getElementById('midi-controls').hidden, "
                          "document.getElementById('run').textContent, "
                          "document.getElementById('run').disabled]") == [True, False, "Play",
                                                                          False]
        assert browser.js("return [...document.querySelectorAll('#midi-options input')]"
                          ".map(i => i.id)") == [f"midi-{o.name}" for o in OPTIONS]
        for name, value in (("transpose", "2"), ("vibrato", "0"), ("scoop", "0")):
            browser.find(f"#midi-{name}").clear()
            browser.type(f"#midi-{name}", value)
        browser.click("#run")
        browser.wait("const a = document.getElementById('output-audio');"
                     "return !document.getElementById('output-section').hidden && "
                     "a.readyState >= 1 && a.duration > 0", 120, "the played MIDI file")
        browser.wait("const i = document.getElementById('roll-image');"
                     "return !document.getElementById('roll-figure').hidden && i.complete && "
                     "i.naturalWidth > 300", 60, "the piano roll")
        assert browser.js("return document.getElementById('input-player').hidden")
        assert "tracks with notes: 1 \"melody\" (3 notes)" in browser.js(
            "return document.getElementById('midi-info').textContent")
        assert browser.js("return document.getElementById('error').hidden")
        duration = browser.js("return document.getElementById('output-audio').duration")
        status, wav = _http("GET", browser.js("return document.getElementById('download')"
                                              ".href"))
        audio, rate = _decode(wav)
        assert status == 200 and abs(duration - len(audio) / rate) < 0.01
        _assert_plays(audio, rate, MELODY, transpose=2)
        assert browser.js("return document.getElementById('download').download") == \
            "notes-flute-test.wav"
        browser.screenshot(ARTIFACTS / "web_midi.png")

        browser.type("#midi-channel", "3")
        browser.click("#run")
        error = browser.wait("const e = document.getElementById('error');"
                             "return !e.hidden && e.textContent", 60, "the error")
        assert error == ("channel 3: no notes to play (tracks with notes: 1 'melody' "
                         "(3 notes); channels [1])")
    finally:
        browser.quit()


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
    # A page closed while its upload arrives: told its session ended, nothing left behind.
    carol = server.session()
    body = clips[0].read_bytes()
    host, port = server.url.split("//")[1].rstrip("/").split(":")
    with socket.create_connection((host, int(port))) as raw:
        raw.sendall(f"POST /api/session/{carol}/audio?name=late.wav HTTP/1.1\r\nHost: "
                    f"{host}:{port}\r\nContent-Length: {len(body)}\r\n"
                    f"Connection: close\r\n\r\n".encode() + body[:1000])
        time.sleep(0.3)
        assert server.api("POST", f"/api/session/{carol}/close")[0] == 200
        raw.sendall(body[1000:])
        answer = b""
        while chunk := raw.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 404") and b"session has ended" in answer
    assert not (roots[0] / carol).exists()


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


def test_requests_from_other_pages_are_refused(server, clips, midi_files):
    """Every state-changing request a browser marks as coming from another page is
    refused with 403; the page's own (same Origin) and scripts' (no Origin) are served."""
    own = server.url.rstrip("/")
    sid = server.session()  # a script: no Origin, no Sec-Fetch-Site
    before = _sessions(server)
    message = ("refused a request from another web page; use the page at the address "
               "timbral serve printed")
    for headers in ({"Origin": "http://127.0.0.1:1"}, {"Origin": "null"},
                    {"Origin": own.replace("127.0.0.1", "localhost")},
                    {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"},
                    {"Origin": own, "Sec-Fetch-Site": "cross-site"}):
        for path, body in (("/api/session", None), (f"/api/session/{sid}/example", None),
                           (f"/api/session/{sid}/audio?name=a.wav", clips[0].read_bytes()),
                           (f"/api/session/{sid}/transfer", {"model": "flute-test"}),
                           (f"/api/session/{sid}/midi?name=a.mid&model=flute-test",
                            midi_files["notes"].read_bytes()),
                           (f"/api/session/{sid}/close", None)):
            status, answer = server.api("POST", path, body, headers)
            assert (status, answer) == (403, {"error": message}), (headers, path)
    assert _sessions(server) == before  # none created, none closed
    # the app's own page: same Origin, Sec-Fetch-Site same-origin
    status, answer = server.api("POST", "/api/session", headers={
        "Origin": own, "Sec-Fetch-Site": "same-origin"})
    assert status == 200 and _sessions(server) == before | {answer["session"]}
    assert server.api("GET", "/api/config", headers={"Origin": "http://127.0.0.1:1"})[0] == 200


ANOTHER_SITE = """<!doctype html><title>another site</title>
<form id="form" method="POST" action="{app}api/session"></form>
<script>
fetch("{app}api/session", {{method: "POST", mode: "no-cors"}})
  .then(() => {{ document.title = "sent"; }}, error => {{ document.title = "failed: " + error; }});
</script>
"""


def test_a_page_on_another_origin_cannot_create_sessions(server, tmp_path):
    """A real page served from another localhost port POSTs to the app from its script
    (fetch) and with a form: the app refuses both (its answer shows where the form
    navigated) and no session appears."""
    page = ANOTHER_SITE.format(app=server.url).encode()

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args):
            pass

    site = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    before = _sessions(server)
    browser = Browser(tmp_path / "profile")
    try:
        browser.get(f"http://127.0.0.1:{site.server_address[1]}/")
        # The fetch settles once the app has answered: its answer is hidden from the page
        # (Cross-Origin-Resource-Policy), so "failed" too means the request was sent.
        browser.wait("return document.title.startsWith('sent') || "
                     "document.title.startsWith('failed')", 30, "the other page's fetch")
        assert _sessions(server) == before
        browser.js("document.getElementById('form').submit()")
        WebDriverWait(browser.driver, 30).until(
            lambda driver: driver.current_url.startswith(server.url))
        shown = browser.wait("return document.body && document.body.innerText", 30,
                             "the app's answer to the form")
        assert json.loads(shown) == {"error": "refused a request from another web page; use "
                                              "the page at the address timbral serve printed"}
    finally:
        browser.quit()
        site.shutdown()
    assert _sessions(server) == before


def test_shutdown_removes_temporary_files(server):
    assert list(server.tmpdir.glob("timbral-web-*"))
    assert server.stop() == 0
    # From its imports to its shutdown, after every test above, the server process looked
    # up no name and connected nowhere (no update checks, no analytics).
    attempts = server.network_log.read_text() if server.network_log.exists() else ""
    assert attempts == "", attempts
    assert not list(server.tmpdir.iterdir())
    assert not any("Traceback" in line for line in server.lines), "".join(server.lines)
