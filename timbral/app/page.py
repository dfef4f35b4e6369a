"""The web app's page: HTML, CSS and JavaScript, all served by the app itself.

Kept as Python strings so they ship with the package wherever it is
installed. Nothing here refers to another site: no CDN, no web fonts, no
analytics; the server's Content-Security-Policy would block it anyway.
"""

from __future__ import annotations

from html import escape

#: The notebook's controls: (id, label, min, max, step, default, unit, help).
#: Ranges are those :func:`timbral.transfer.transfer` accepts.
CONTROLS = [
    ("threshold", "Note threshold", 0.0, 2.0, 0.01, 1.0, "",
     "How clearly a frame must sound like a note to count as one (higher: fewer notes)."),
    ("quiet", "Quiet between notes", 0.0, 60.0, 1.0, 20.0, "dB",
     "How much softer the frames between notes are made (auto-adjust)."),
    ("autotune", "Autotune", 0.0, 1.0, 0.01, 0.0, "",
     "Pull the pitch toward the notes of the inferred major scale (auto-adjust)."),
    ("pitch_shift", "Pitch shift", -2.0, 2.0, 1.0, 0.0, "octaves",
     "Move the melody by octaves, after auto-adjust."),
    ("semitones", "Pitch shift", -24.0, 24.0, 1.0, 0.0, "semitones",
     "And by semitones."),
    ("loudness_shift", "Loudness shift", -20.0, 20.0, 1.0, 0.0, "dB",
     "Play louder or softer, after auto-adjust."),
]

#: The same, for the page's script (GET /api/config).
CONTROLS_JSON = [dict(zip(("id", "label", "min", "max", "step", "default", "unit", "help"), c))
                 for c in CONTROLS]

#: Controls that only act when auto-adjust is on.
ADJUST_ONLY = ("quiet", "autotune")


def _slider(cid, label, low, high, step, default, unit, help_text) -> str:
    unit_html = f' <span class="unit">{escape(unit)}</span>' if unit else ""
    return (f'<div class="control" id="control-{cid}">'
            f'<label for="{cid}">{escape(label)}{unit_html}</label>'
            f'<input type="range" id="{cid}" name="{cid}" min="{low:g}" max="{high:g}" '
            f'step="{step:g}" value="{default:g}" data-default="{default:g}" '
            f'aria-describedby="{cid}-help">'
            f'<output id="{cid}-value" for="{cid}">{default:g}</output>'
            f'<p class="help" id="{cid}-help">{escape(help_text)}</p></div>')


INDEX_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>timbral: timbre transfer</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/app.css">
<script src="/app.js" defer></script>
</head>
<body>
<header>
  <h1>timbral <span>timbre transfer</span></h1>
  <p>Play a recording with another instrument. Everything runs on this computer:
  your audio is not sent anywhere else.</p>
</header>
<main>
<div id="error" class="error" role="alert" hidden></div>

<section id="input-section">
  <h2><span class="step">1</span> Your audio</h2>
  <div class="row">
    <button type="button" id="record">&#9679; Record</button>
    <button type="button" id="stop" disabled>&#9632; Stop</button>
    <span id="record-time" class="muted"></span>
    <span class="or">or</span>
    <label class="file-button">Upload a file
      <input type="file" id="audio-file"
             accept=".wav,.mp3,.flac,.ogg,.oga,.opus,.aif,.aiff,audio/*"></label>
    <button type="button" id="example" class="link" hidden>or try the example clip</button>
  </div>
  <p class="help" id="audio-limits">wav, mp3, flac or ogg.</p>
  <div id="input-info" class="info"></div>
  <audio id="input-audio" controls preload="metadata" hidden></audio>
</section>

<section id="model-section">
  <h2><span class="step">2</span> Instrument</h2>
  <div class="row">
    <label for="model">Model</label>
    <select id="model"></select>
    <span class="or">or</span>
    <label class="file-button">Upload a model zip
      <input type="file" id="model-file" accept=".zip,application/zip"></label>
  </div>
  <p class="help" id="model-card"></p>
</section>

<section id="controls-section">
  <h2><span class="step">3</span> Controls</h2>
  <label class="check"><input type="checkbox" id="adjust" checked>
    Auto-adjust: move the pitch register and loudness toward what the instrument was trained
    on</label>
  <div class="controls">
""" + "\n".join("    " + _slider(*c) for c in CONTROLS) + """
  </div>
  <div class="row">
    <label class="check"><input type="checkbox" id="plots" checked> Draw the plots</label>
    <button type="button" id="reset" class="link">Reset the controls</button>
  </div>
</section>

<section id="run-section">
  <div class="row">
    <button type="button" id="run" class="primary" disabled>Transfer</button>
    <span id="status" class="muted" role="status" aria-live="polite"></span>
  </div>
</section>

<section id="output-section" hidden>
  <h2><span class="step">4</span> Result</h2>
  <div class="players">
    <div><h3>Input</h3><audio id="input-copy" controls preload="metadata"></audio></div>
    <div><h3>Output</h3><audio id="output-audio" controls preload="metadata"></audio></div>
  </div>
  <p><a id="download" class="button" href="#" download>Download the result (WAV)</a>
     <span id="output-info" class="muted"></span></p>
  <ul id="messages"></ul>
  <details open><summary>Timings</summary><table id="timings"></table></details>
  <figure id="notes-figure" hidden><img id="notes-plot" alt="note detection, loudness and
    pitch before and after adjusting"><figcaption>Notes, loudness and pitch: what the
    instrument was given.</figcaption></figure>
  <figure id="spectrogram-figure" hidden><img id="spectrogram-plot" alt="spectrograms of the
    input and the output"><figcaption>Spectrograms of the input and the output.</figcaption>
  </figure>
</section>
</main>
<footer id="limits" class="muted"></footer>
</body>
</html>
"""

APP_CSS = """
:root { --fg: #1d2330; --muted: #5b6475; --line: #d8dde6; --accent: #3457d5;
        --bad: #a4262c; --bg: #f6f7fb; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: var(--fg); background: var(--bg); }
header, main, footer { max-width: 980px; margin: 0 auto; padding: 0 20px; }
header { padding-top: 18px; }
h1 { margin: 0 0 4px; font-size: 26px; }
h1 span { font-weight: 400; color: var(--muted); }
h2 { font-size: 18px; margin: 0 0 10px; }
h3 { font-size: 14px; margin: 0 0 4px; color: var(--muted); }
section { background: #fff; border: 1px solid var(--line); border-radius: 10px;
          padding: 14px 18px; margin: 14px 0; }
.step { display: inline-block; width: 24px; height: 24px; border-radius: 12px;
        background: var(--accent); color: #fff; text-align: center; font-size: 14px;
        line-height: 24px; margin-right: 6px; }
.row { display: flex; flex-wrap: wrap; align-items: center; gap: 10px; }
.or { color: var(--muted); }
.muted, .help { color: var(--muted); }
.help { font-size: 13px; margin: 4px 0 0; }
button, .button, .file-button { font: inherit; padding: 6px 14px; border-radius: 6px;
  border: 1px solid var(--line); background: #fff; color: var(--fg); cursor: pointer;
  text-decoration: none; display: inline-block; }
button:disabled { opacity: .5; cursor: default; }
button.primary { background: var(--accent); color: #fff; border-color: var(--accent);
                 font-weight: 600; padding: 8px 26px; }
button.link { border: none; background: none; color: var(--accent); padding: 0; }
#record { color: var(--bad); }
.file-button { position: relative; overflow: hidden; }
.file-button input { position: absolute; inset: 0; opacity: 0; cursor: pointer; }
select { font: inherit; padding: 5px 8px; border-radius: 6px; border: 1px solid var(--line);
         min-width: 200px; }
.controls { display: grid; grid-template-columns: repeat(auto-fill, minmax(280px, 1fr));
            gap: 8px 26px; margin: 12px 0; }
.control { display: grid; grid-template-columns: 1fr 56px; align-items: center; }
.control label { grid-column: 1 / 3; font-weight: 600; font-size: 14px; }
.control .unit { font-weight: 400; color: var(--muted); }
.control input[type=range] { width: 100%; }
.control output { text-align: right; font-variant-numeric: tabular-nums; }
.control .help { grid-column: 1 / 3; }
.control.off { opacity: .45; }
.check { display: block; margin: 4px 0; }
.error { background: #fdecee; color: var(--bad); border: 1px solid #f3b7bd;
         border-radius: 8px; padding: 10px 14px; margin: 14px 0; white-space: pre-wrap; }
.info { margin: 8px 0 4px; }
audio { width: 100%; max-width: 460px; margin-top: 6px; }
.players { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
#messages { padding-left: 20px; }
#timings td { padding: 1px 14px 1px 0; font-variant-numeric: tabular-nums; }
#timings td:last-child { text-align: right; }
figure { margin: 14px 0 0; }
figure img { max-width: 100%; border: 1px solid var(--line); border-radius: 6px; }
figcaption { color: var(--muted); font-size: 13px; }
footer { font-size: 13px; padding-bottom: 24px; }
@media (max-width: 640px) { .players { grid-template-columns: 1fr; } }
"""

APP_JS = r"""
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const state = { session: null, config: null, hasAudio: false, busy: false, recording: null,
                  audioName: "" };

  function showError(message) {
    const box = $("error");
    box.textContent = message;
    box.hidden = false;
    box.scrollIntoView({ block: "nearest" });
  }
  function clearError() { $("error").hidden = true; $("error").textContent = ""; }
  function status(text) { $("status").textContent = text || ""; }
  function mb(bytes) { return (bytes / 1e6).toFixed(bytes < 1e7 ? 1 : 0) + " MB"; }

  async function api(path, options) {
    let response;
    try {
      response = await fetch(path, options || {});
    } catch (e) {
      throw new Error("The server did not answer. Is `timbral serve` still running?");
    }
    const type = response.headers.get("content-type") || "";
    const body = type.includes("application/json") ? await response.json() : null;
    if (!response.ok) {
      throw new Error(body && body.error ? body.error
                                         : `The server answered ${response.status}.`);
    }
    return body;
  }
  const sessionPath = (what) => `/api/session/${state.session}/${what}`;

  function updateButtons() {
    const recording = state.recording !== null;
    $("run").disabled = state.busy || recording || !state.hasAudio || !$("model").value;
    $("record").disabled = state.busy || recording;
    $("stop").disabled = !recording;
    $("audio-file").disabled = state.busy || recording;
    $("example").disabled = state.busy || recording;
    $("model-file").disabled = state.busy;
  }
  function setBusy(busy, text) { state.busy = busy; status(text); updateButtons(); }

  // ---- input -------------------------------------------------------------
  async function uploadAudio(blob, name) {
    clearError();
    const limit = state.config.limits.max_upload_mb * 1e6;
    if (blob && blob.size > limit) {
      showError(`${name}: ${mb(blob.size)} is larger than this server's limit of ` +
                `${mb(limit)} (timbral serve --max-upload-mb).`);
      return;
    }
    setBusy(true, `Uploading ${name}...`);
    try {
      const info = blob === null ? await api(sessionPath("example"), { method: "POST" })
        : await api(sessionPath(`audio?name=${encodeURIComponent(name)}`),
          { method: "POST", body: blob, headers: { "Content-Type": "application/octet-stream" } });
      state.hasAudio = true;
      state.audioName = info.name;
      $("input-audio").src = info.url;
      $("input-audio").hidden = false;
      $("input-info").textContent =
        `${info.name}: ${info.seconds.toFixed(2)} s at ${info.sample_rate} Hz`;
      $("input-info").dataset.seconds = info.seconds;
      status("");
    } catch (e) {
      showError(e.message);
      status("");
    } finally {
      setBusy(false, $("status").textContent);
    }
  }

  $("audio-file").addEventListener("change", (event) => {
    const file = event.target.files[0];
    if (file) uploadAudio(file, file.name);
    event.target.value = "";
  });

  function encodeWav(samples, rate) {
    const buffer = new ArrayBuffer(44 + samples.length * 2);
    const view = new DataView(buffer);
    const text = (offset, s) => { for (let i = 0; i < s.length; i++) view.setUint8(offset + i, s.charCodeAt(i)); };
    text(0, "RIFF"); view.setUint32(4, 36 + samples.length * 2, true); text(8, "WAVE");
    text(12, "fmt "); view.setUint32(16, 16, true); view.setUint16(20, 1, true);
    view.setUint16(22, 1, true); view.setUint32(24, rate, true); view.setUint32(28, rate * 2, true);
    view.setUint16(32, 2, true); view.setUint16(34, 16, true);
    text(36, "data"); view.setUint32(40, samples.length * 2, true);
    for (let i = 0; i < samples.length; i++) {
      const s = Math.max(-1, Math.min(1, samples[i]));
      view.setInt16(44 + 2 * i, s < 0 ? s * 32768 : s * 32767, true);
    }
    return buffer;
  }

  async function startRecording() {
    clearError();
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      showError("This browser offers no microphone to this page: browsers allow recording " +
                "only on secure addresses (http://127.0.0.1, http://localhost or https). " +
                "Open the app at the address `timbral serve` printed, or upload a file.");
      return;
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia(
        { audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false } });
    } catch (e) {
      showError(`Cannot use the microphone (${e.name}: ${e.message}). ` +
                "Allow this page to use it, or upload a file.");
      return;
    }
    const context = new AudioContext();
    const source = context.createMediaStreamSource(stream);
    const node = context.createScriptProcessor(4096, 1, 1);
    const chunks = [];
    node.onaudioprocess = (e) => chunks.push(new Float32Array(e.inputBuffer.getChannelData(0)));
    source.connect(node);
    node.connect(context.destination);  // silent: the output buffer is never filled
    const started = performance.now();
    const maxSeconds = state.config.limits.max_seconds;
    const timer = setInterval(() => {
      const seconds = (performance.now() - started) / 1000;
      $("record-time").textContent = `recording ${seconds.toFixed(1)} s`;
      if (seconds >= maxSeconds) stopRecording();
    }, 100);
    state.recording = { stream, context, source, node, chunks, timer };
    updateButtons();
  }

  async function stopRecording() {
    const rec = state.recording;
    if (!rec) return;
    state.recording = null;
    clearInterval(rec.timer);
    rec.source.disconnect();
    rec.node.disconnect();
    rec.stream.getTracks().forEach((track) => track.stop());
    const rate = rec.context.sampleRate;
    await rec.context.close();
    const total = rec.chunks.reduce((n, c) => n + c.length, 0);
    const samples = new Float32Array(total);
    let offset = 0;
    for (const c of rec.chunks) { samples.set(c, offset); offset += c.length; }
    $("record-time").textContent = `recorded ${(total / rate).toFixed(1)} s`;
    updateButtons();
    if (total === 0) { showError("The recording is empty: no sound came from the microphone."); return; }
    await uploadAudio(new Blob([encodeWav(samples, rate)], { type: "audio/wav" }), "recording.wav");
  }

  $("example").addEventListener("click", () => uploadAudio(null, state.config.example));
  $("record").addEventListener("click", startRecording);
  $("stop").addEventListener("click", stopRecording);

  // ---- model -------------------------------------------------------------
  function addModelOption(model, select) {
    const option = document.createElement("option");
    option.value = model.id;
    option.textContent = model.kind === "uploaded" ? `${model.name} (uploaded)` : model.name;
    option.dataset.description = model.description || "";
    $("model").appendChild(option);
    if (select) $("model").value = model.id;
  }
  function showCard() {
    const option = $("model").selectedOptions[0];
    $("model-card").textContent = option ? option.dataset.description : "";
    updateButtons();
  }
  $("model").addEventListener("change", showCard);

  $("model-file").addEventListener("change", async (event) => {
    const file = event.target.files[0];
    event.target.value = "";
    if (!file) return;
    clearError();
    const limit = state.config.limits.max_model_mb * 1e6;
    if (file.size > limit) {
      showError(`${file.name}: ${mb(file.size)} is larger than this server's limit of ` +
                `${mb(limit)} for model zips (timbral serve --max-model-mb).`);
      return;
    }
    setBusy(true, `Checking ${file.name}...`);
    try {
      const model = await api(sessionPath(`model?name=${encodeURIComponent(file.name)}`),
        { method: "POST", body: file, headers: { "Content-Type": "application/zip" } });
      for (const old of $("model").querySelectorAll('option[value="uploaded"], option[value=""]')) {
        old.remove();
      }
      addModelOption(model, true);
      showCard();
      status(`Loaded ${model.name}: ${model.sample_rate} Hz` +
             (model.statistics ? "" : ", no dataset statistics (auto-adjust will be skipped)"));
    } catch (e) {
      showError(e.message);
      status("");
    } finally {
      setBusy(false, $("status").textContent);
    }
  });

  // ---- controls ----------------------------------------------------------
  function sliders() { return state.config.controls.map((c) => $(c.id)); }
  function showValue(input) { $(`${input.id}-value`).textContent = input.value; }
  function adjustChanged() {
    for (const id of ["quiet", "autotune"]) {
      $(id).disabled = !$("adjust").checked;
      $(`control-${id}`).classList.toggle("off", !$("adjust").checked);
    }
  }
  $("adjust").addEventListener("change", adjustChanged);
  $("reset").addEventListener("click", () => {
    for (const input of sliders()) { input.value = input.dataset.default; showValue(input); }
    $("adjust").checked = true;
    adjustChanged();
  });

  // ---- transfer ----------------------------------------------------------
  function showResult(r) {
    $("output-section").hidden = false;
    $("input-copy").src = $("input-audio").src;
    $("output-audio").src = r.audio_url;
    $("download").href = r.audio_url;
    $("download").setAttribute("download", r.download_name);
    $("output-info").textContent =
      `${r.seconds.toFixed(2)} s at ${r.sample_rate} Hz, played by ${r.model}; ` +
      `${Math.round(100 * r.note_on_fraction)}% of the frames are notes`;
    const list = $("messages");
    list.replaceChildren(...r.messages.map((m) => {
      const item = document.createElement("li"); item.textContent = m; return item;
    }));
    const table = $("timings");
    table.replaceChildren(...Object.entries(r.timings).map(([name, seconds]) => {
      const row = document.createElement("tr");
      const a = document.createElement("td"); a.textContent = name;
      const b = document.createElement("td"); b.textContent = `${seconds.toFixed(2)} s`;
      row.append(a, b);
      return row;
    }));
    const speed = document.createElement("tr");
    speed.innerHTML = "<td></td><td></td>";
    speed.cells[0].textContent = "speed";
    speed.cells[1].textContent = `${(r.seconds / r.timings.total).toFixed(1)}x real time`;
    table.append(speed);
    for (const [key, figure, img] of [["notes", "notes-figure", "notes-plot"],
                                      ["spectrograms", "spectrogram-figure", "spectrogram-plot"]]) {
      const url = r.pictures[key];
      $(figure).hidden = !url;
      if (url) $(img).src = url; else $(img).removeAttribute("src");
    }
  }

  $("run").addEventListener("click", async () => {
    clearError();
    const body = { model: $("model").value, adjust: $("adjust").checked,
                   plots: $("plots").checked };
    for (const input of sliders()) body[input.id] = Number(input.value);
    const started = performance.now();
    setBusy(true, "Working...");
    const timer = setInterval(() => status(
      `Working... ${((performance.now() - started) / 1000).toFixed(0)} s`), 500);
    try {
      const result = await api(sessionPath("transfer"), { method: "POST", body: JSON.stringify(body),
                                headers: { "Content-Type": "application/json" } });
      showResult(result);
      clearInterval(timer);
      status(`Done in ${result.timings.total.toFixed(1)} s.`);
    } catch (e) {
      clearInterval(timer);
      showError(e.message);
      status("");
    } finally {
      clearInterval(timer);
      setBusy(false, $("status").textContent);
    }
  });

  // ---- start -------------------------------------------------------------
  async function start() {
    try {
      state.config = await api("/api/config");
      state.session = (await api("/api/session", { method: "POST" })).session;
    } catch (e) {
      showError(e.message);
      return;
    }
    const limits = state.config.limits;
    $("audio-limits").textContent = `wav, mp3, flac or ogg; up to ${limits.max_upload_mb} MB ` +
      `and ${limits.max_seconds} s.`;
    $("limits").textContent = `This server accepts audio up to ${limits.max_upload_mb} MB and ` +
      `${limits.max_seconds} s, model zips up to ${limits.max_model_mb} MB; files are deleted ` +
      `when you close the page, after ${limits.session_minutes} minutes idle, or when the ` +
      `server stops.`;
    $("example").hidden = !state.config.example;
    for (const model of state.config.models) addModelOption(model, false);
    if (!state.config.models.length) {
      const option = document.createElement("option");
      option.value = ""; option.textContent = "no models installed: upload a zip";
      $("model").appendChild(option);
    }
    showCard();
    for (const input of sliders()) input.addEventListener("input", () => showValue(input));
    adjustChanged();
    window.addEventListener("pagehide", () => navigator.sendBeacon(sessionPath("close")));
    // A page restored from the back/forward cache has lost its session: start afresh.
    window.addEventListener("pageshow", (event) => { if (event.persisted) location.reload(); });
    document.body.dataset.ready = "true";
    updateButtons();
  }
  start();
})();
"""
