"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  // mode: "audio" (a transfer of the recorded or uploaded audio) or "midi" (midiFile played).
  const state = { session: null, config: null, hasAudio: false, busy: false, recording: null,
                  audioName: "", mode: "audio", midiFile: null };

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
    const ready = state.mode === "midi" ? state.midiFile !== null : state.hasAudio;
    $("run").disabled = state.busy || recording || !ready || !$("model").value;
    $("record").disabled = state.busy || recording;
    $("stop").disabled = !recording;
    $("audio-file").disabled = state.busy || recording;
    $("midi-file").disabled = state.busy || recording;
    $("example").disabled = state.busy || recording;
    $("model-file").disabled = state.busy;
  }
  function setBusy(busy, text) { state.busy = busy; status(text); updateButtons(); }
  // Audio in: the transfer controls; a MIDI file in: the MIDI options.
  function setMode(mode) {
    state.mode = mode;
    const midi = mode === "midi";
    $("audio-controls").hidden = midi;
    $("midi-controls").hidden = !midi;
    $("midi-info").hidden = !midi;
    $("input-info").hidden = midi;
    $("input-audio").hidden = midi || !state.hasAudio;
    $("run").textContent = midi ? "Play" : "Transfer";
    updateButtons();
  }

  // ---- input -------------------------------------------------------------
  // An upload over the server's limit (``key`` of /api/config's limits) is refused
  // here, in the server's words, before it is sent.
  function tooBig(size, name, key, what) {
    const limit = state.config.limits[key] * 1e6;
    if (size <= limit) return false;
    showError(`${name}: ${mb(size)} is larger than this server's limit of ${mb(limit)}${what} ` +
              `(timbral serve --${key.replace(/_/g, "-")}).`);
    return true;
  }

  async function uploadAudio(blob, name) {
    clearError();
    if (blob && tooBig(blob.size, name, "max_upload_mb", "")) return;
    setBusy(true, `Uploading ${name}...`);
    try {
      const info = blob === null ? await api(sessionPath("example"), { method: "POST" })
        : await api(sessionPath(`audio?name=${encodeURIComponent(name)}`),
          { method: "POST", body: blob, headers: { "Content-Type": "application/octet-stream" } });
      state.hasAudio = true;
      state.audioName = info.name;
      setMode("audio");
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

  // ---- MIDI file ---------------------------------------------------------
  // Kept in the page; sent with its options on every Play (POST .../midi).
  $("midi-file").addEventListener("change", (event) => {
    const file = event.target.files[0];
    event.target.value = "";
    if (!file) return;
    clearError();
    if (tooBig(file.size, file.name, "max_midi_mb", " for MIDI files")) return;
    state.midiFile = file;
    $("midi-info").textContent = `${file.name}: ${(file.size / 1000).toFixed(1)} kB; ` +
      "set the options below and press Play";
    setMode("midi");
  });

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
    if (tooBig(file.size, file.name, "max_model_mb", " for model zips")) return;
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
  // Built from the server's table (GET /api/config "controls"): a checkbox per switch,
  // a slider per number; each input's id is the control's name in the transfer request.
  function element(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
    node.append(...children);
    return node;
  }
  function buildControl(c) {
    const help = element("p", { class: "help", id: `${c.id}-help` }, c.help);
    if (c.kind === "bool") {
      const input = element("input", { type: "checkbox", id: c.id, "aria-describedby": help.id });
      input.checked = c.default;
      return element("div", { class: "switch", id: `control-${c.id}` },
                     element("label", { class: "check" }, input, ` ${c.label}`), help);
    }
    const label = element("label", { for: c.id }, c.label);
    if (c.unit) label.append(" ", element("span", { class: "unit" }, c.unit));
    const input = element("input", { type: "range", id: c.id, name: c.id, min: c.min,
                                     max: c.max, step: c.step, value: c.default,
                                     "aria-describedby": help.id });
    const output = element("output", { id: `${c.id}-value`, for: c.id }, String(c.default));
    input.addEventListener("input", () => showValue(c));
    return element("div", { class: "control", id: `control-${c.id}` }, label, input, output,
                   help);
  }
  function buildControls() {
    for (const c of state.config.controls) {
      $(c.kind === "bool" ? "switches" : "sliders").append(buildControl(c));
    }
    $("adjust").addEventListener("change", adjustChanged);
    adjustChanged();
    $("midi-options").append(...state.config.midi_options.map(buildMidiOption));
  }
  // The MIDI options, from the server's table (GET /api/config "midi_options"): a number
  // box per number (empty: every track or channel, or the model's own expression), a
  // checkbox per switch; each input's id is "midi-" and the option's query parameter.
  function buildMidiOption(o) {
    const id = `midi-${o.id}`;
    const help = element("p", { class: "help", id: `${id}-help` }, o.help);
    if (o.kind === "bool") {
      const input = element("input", { type: "checkbox", id, "aria-describedby": help.id });
      input.checked = o.default;
      return element("div", { class: "control check-option", id: `option-${o.id}` },
                     element("label", { class: "check" }, input, ` ${o.label}`), help);
    }
    const label = element("label", { for: id }, o.label);
    if (o.unit && o.unit !== "x") label.append(" ", element("span", { class: "unit" }, o.unit));
    const attributes = { type: "number", id, name: o.id, step: o.step,
                         "aria-describedby": help.id };
    if (o.min !== null) attributes.min = o.min;
    if (o.max !== null) attributes.max = o.max;
    if (o.default === null) {
      attributes.placeholder = o.kind === "override" ? "the model's" : "all";
    }
    const input = element("input", attributes);
    input.value = o.default === null ? "" : String(o.default);
    return element("div", { class: "control", id: `option-${o.id}` }, label, input, help);
  }
  function resetMidiOptions() {
    for (const o of state.config.midi_options) {
      const input = $(`midi-${o.id}`);
      if (o.kind === "bool") input.checked = o.default;
      else input.value = o.default === null ? "" : String(o.default);
    }
  }
  function midiQuery() {
    const query = new URLSearchParams({ name: state.midiFile.name, model: $("model").value,
                                        plot: String($("plots").checked) });
    for (const o of state.config.midi_options) {
      const input = $(`midi-${o.id}`);
      const value = o.kind === "bool" ? String(input.checked) : input.value.trim();
      if (value !== "") query.set(o.id, value);
    }
    return query.toString();
  }
  function showValue(c) { $(`${c.id}-value`).textContent = $(c.id).value; }
  function controlValue(c) { return c.kind === "bool" ? $(c.id).checked : Number($(c.id).value); }
  function adjustChanged() {
    for (const c of state.config.controls.filter((c) => c.adjust_only)) {
      $(c.id).disabled = !$("adjust").checked;
      $(`control-${c.id}`).classList.toggle("off", !$("adjust").checked);
    }
  }
  $("reset").addEventListener("click", () => {
    $("polyphonic").checked = false;
    for (const c of state.config.controls) {
      if (c.kind === "bool") $(c.id).checked = c.default;
      else { $(c.id).value = c.default; showValue(c); }
    }
    adjustChanged();
    resetMidiOptions();
  });

  // ---- transfer ----------------------------------------------------------
  function showResult(r, midi) {
    $("output-section").hidden = false;
    $("input-player").hidden = midi;
    if (midi) $("input-copy").removeAttribute("src");
    else $("input-copy").src = $("input-audio").src;
    $("output-audio").src = r.audio_url;
    $("download").href = r.audio_url;
    $("download").setAttribute("download", r.download_name);
    $("output-info").textContent = midi
      ? `${r.seconds.toFixed(2)} s at ${r.sample_rate} Hz, played by ${r.model}: ` +
        `${r.notes} notes in ${r.voices} voice(s)`
      : `${r.seconds.toFixed(2)} s at ${r.sample_rate} Hz, played by ${r.model}; ` +
        `${Math.round(100 * r.note_on_fraction)}% of the frames are notes`;
    if (midi) {
      const tracks = r.tracks.filter((t) => t.notes > 0).map(
        (t) => `${t.index}${t.name ? ` "${t.name}"` : ""} (${t.notes} notes)`);
      $("midi-info").textContent = `${state.midiFile.name}: tracks with notes: ` +
        `${tracks.join(", ") || "none"}`;
    }
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
                                      ["spectrograms", "spectrogram-figure", "spectrogram-plot"],
                                      ["roll", "roll-figure", "roll-image"]]) {
      const url = r.pictures[key];
      $(figure).hidden = !url;
      if (url) $(img).src = url; else $(img).removeAttribute("src");
    }
  }

  $("run").addEventListener("click", async () => {
    clearError();
    const midi = state.mode === "midi";
    const body = { model: $("model").value, plots: $("plots").checked,
                   polyphonic: $("polyphonic").checked };
    for (const c of state.config.controls) body[c.id] = controlValue(c);
    const started = performance.now();
    setBusy(true, "Working...");
    const timer = setInterval(() => status(
      `Working... ${((performance.now() - started) / 1000).toFixed(0)} s`), 500);
    try {
      const result = midi
        ? await api(sessionPath(`midi?${midiQuery()}`), { method: "POST", body: state.midiFile,
                    headers: { "Content-Type": "audio/midi" } })
        : await api(sessionPath("transfer"), { method: "POST", body: JSON.stringify(body),
                    headers: { "Content-Type": "application/json" } });
      showResult(result, midi);
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
    $("midi-limits").textContent = `Standard MIDI files (.mid) up to ${limits.max_midi_mb} MB ` +
      `that play for up to ${limits.max_midi_seconds} s, with up to ` +
      `${limits.max_midi_voices} notes sounding at once.`;
    $("limits").textContent = `This server accepts audio up to ${limits.max_upload_mb} MB and ` +
      `${limits.max_seconds} s, MIDI files up to ${limits.max_midi_mb} MB and ` +
      `${limits.max_midi_seconds} s, model zips up to ${limits.max_model_mb} MB; ` +
      "files are deleted " +
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
    buildControls();
    window.addEventListener("pagehide", () => navigator.sendBeacon(sessionPath("close")));
    // A page restored from the back/forward cache has lost its session: start afresh.
    window.addEventListener("pageshow", (event) => { if (event.persisted) location.reload(); });
    document.body.dataset.ready = "true";
    updateButtons();
  }
  start();
})();
