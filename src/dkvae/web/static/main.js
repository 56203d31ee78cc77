// The drum machine page: loads the model's pads and a first kit, and wires pads, sequencer, controls,
// keys and MIDI.
//
// `window.dkvae` exposes the live state (pads, engine, sequencer, last hit, meter) for the browser tests.

import * as api from "./api.js";
import { DEFAULT_SETTINGS, Engine, meterFloorDb } from "./engine.js";
import { SoundMap, mapSound, showList } from "./library.js";
import { showMix, showMorphTargets, showSliders } from "./panel.js";
import { buildPad, drawPad, padState, setSound, stepHistory } from "./pads.js";
import { Sequencer, buildGrid, showCell, showStep } from "./sequencer.js";
import { padRefs, padSettings, parseSession, saveBlob, saveResponse, sessionDocument } from "./session.js";

const FIRST_KIT_SEED = 0;
const UPLOAD_VARIATIONS = 8;
const KEY_VELOCITY = 100;
const ACCENT_VELOCITY = 127;
const METER_FALL_DB = 0.5; // how far the meter's peak falls per frame
// A first bar so that Play is heard at once (the kit demo's groove, dkvae/kits/demo.py): pad -> {step: velocity}.
const STARTER_PATTERN = {
  kick: { 0: 120, 6: 90, 8: 115, 10: 80 },
  snare: { 4: 115, 12: 118 },
  rim: { 15: 60 },
  closed_hat: { 0: 90, 2: 70, 4: 95, 6: 70, 8: 90, 10: 70, 12: 95 },
  open_hat: { 14: 100 },
};

const $ = (selector) => document.querySelector(selector);
const hook = (window.dkvae = { ready: false, errors: [], lastHit: null, hits: 0 });

function status(text, isError = false) {
  const line = $("#status");
  line.textContent = text;
  line.classList.toggle("error", isError);
  if (isError) hook.errors.push(text);
}

// Run an action, reporting its failure on the status line (a busy server or a bad file is not a crash).
function guarded(action) {
  return async (...args) => {
    try {
      return await action(...args);
    } catch (error) {
      status(error.message, true);
      return undefined;
    }
  };
}

async function main() {
  const model = await api.model();
  const engine = new Engine(model.sample_rate);
  engine.setChokes(model.pads);
  const pads = model.pads.map(padState);
  const byName = new Map(pads.map((pad) => [pad.info.name, pad]));
  const sequencer = new Sequencer(model.pads, engine, (name) => byName.get(name));
  const padByNote = new Map(pads.map((pad) => [pad.info.note, pad]));
  let selected = pads[0];
  let origin = null; // the selected pad's sound the sliders and morph start from
  let picked = null; // a sound picked on the map or in a list, to audition or use
  Object.assign(hook, { model, engine, pads, byName, sequencer, picked });

  // --- sounds on pads --------------------------------------------------------------------------

  async function assign(pad, sound, { record = true, keepOrigin = false } = {}) {
    const buffer = await engine.load(sound);
    setSound(pad, sound, buffer, record);
    redraw(pad);
    if (pad === selected && !keepOrigin) select(pad);
    else if (pad === selected) showSelection();
    return buffer;
  }

  function hit(pad, velocity, eventTime = performance.now()) {
    engine.resume();
    if (!pad.buffer) return;
    const start = engine.play(pad.info.name, pad.buffer, 0, velocity, pad.settings);
    hook.hits += 1;
    hook.lastHit = {
      pad: pad.info.name,
      velocity,
      length: pad.buffer.length,
      handlerMs: performance.now() - eventTime,
      outputLatencyMs: 1000 * ((engine.ctx.baseLatency || 0) + (engine.ctx.outputLatency || 0)),
      contextTime: start,
    };
    pad.element.classList.add("hit");
    setTimeout(() => pad.element.classList.remove("hit"), 90);
    if (pad !== selected) select(pad);
  }

  // A pad's look, and the pad bar's when it is the selected one.
  function redraw(pad) {
    drawPad(pad);
    if (pad === selected) drawBar();
  }

  // The bar of the selected pad's tools (narrow screens show it instead of each pad's own).
  const bar = $("#pad-bar");
  function drawBar() {
    $("#bar-name").textContent = selected.info.label;
    bar.querySelector('[data-act="lock"]').classList.toggle("on", selected.locked);
    bar.querySelector('[data-act="undo"]').disabled = selected.position <= 0;
    bar.querySelector('[data-act="redo"]').disabled = selected.position >= selected.history.length - 1;
    bar.querySelector('[data-act="amount"]').value = selected.amount;
    bar.querySelector(".amount output").textContent = selected.amount.toFixed(2);
  }

  function showSelection() {
    for (const pad of pads) pad.element.classList.toggle("selected", pad === selected);
    drawBar();
    const sound = selected.sound;
    $("#sel-name").textContent = selected.info.label;
    $("#sel-info").textContent = sound ? `${sound.instrument} · ${sound.operation} · seed ${sound.seed ?? "—"} · ${sound.id}` : "—";
    $("#sel-sidecar").href = sound ? sound.sidecar : "#";
    $("#map-use").textContent = `use on ${selected.info.label}`;
  }

  function select(pad) {
    selected = pad;
    origin = pad.sound;
    showSelection();
    showMorphTargets($("#morph-target"), pads, pad);
    showMix($("#mix"), pad);
    $("#morph").value = 0;
    const apply = guarded((sound) => assign(selected, sound, { keepOrigin: true }).then(() => hit(selected, KEY_VELOCITY)));
    guarded(showSliders)($("#sliders"), origin, apply, pad.info.instrument);
  }

  const actions = {
    hit,
    new: guarded(async (pad) => {
      await assign(pad, await api.generate(pad.info.instrument, api.randomSeed(), Number($("#temperature").value)));
      hit(pad, KEY_VELOCITY);
    }),
    lock: (pad) => {
      pad.locked = !pad.locked;
      redraw(pad);
    },
    amount: (pad) => { if (pad === selected) drawBar(); },
    vary: guarded(async (pad) => {
      if (!pad.sound) return;
      const [sound] = await api.vary(pad.sound, pad.amount, api.randomSeed());
      await assign(pad, sound);
      hit(pad, KEY_VELOCITY);
    }),
    undo: (pad) => travel(pad, -1),
    redo: (pad) => travel(pad, 1),
    drop: guarded(async (pad, file) => dropFile(pad, file)),
  };

  async function travel(pad, direction) {
    const sound = stepHistory(pad, direction);
    if (!sound) return;
    await guarded(assign)(pad, sound, { record: false });
    hit(pad, KEY_VELOCITY);
  }

  // A dropped or chosen file: the pad plays the user's own sound, with the model's variations of it beside it.
  async function dropFile(pad, file) {
    if (file.size > model.max_upload_bytes) throw new Error(`${file.name} is over ${model.max_upload_bytes / 2 ** 20} MiB`);
    status(`analysing ${file.name}…`);
    const result = await api.upload(file, pad.amount, UPLOAD_VARIATIONS, api.randomSeed());
    const own = await ownSound(result, file);
    if (pad !== selected) select(pad);
    await assign(pad, own ?? result.variations[0]);
    showVariations(result, own);
    hook.lastUpload = result;
    const kept = own ? "the pad plays your sound" : "this browser cannot play the file itself, so the pad plays variation 1";
    const heard = result.instrument ? `heard as ${result.instrument}` : "analysed (this model names no class)";
    status(`${file.name}: ${heard}; ${kept}, ${result.variations.length} variations beside it`);
    hit(pad, KEY_VELOCITY);
  }

  // The user's own sound, decoded here, as a pad sound. The server knows it by the latent it hears in it
  // (`result.source`): vary, the sliders, saving and the exports use that; the pad plays the file itself.
  async function ownSound(result, file) {
    const id = `yours-${result.source.id}`;
    try {
      const buffer = await engine.decode(id, await file.arrayBuffer());
      return { ...result.source, id, url: null, operation: "yours", seed: null, name: file.name, samples: buffer.length, sample_rate: buffer.sampleRate };
    } catch {
      return null; // a format the server reads but this browser does not (AIFF in Chromium)
    }
  }

  function showVariations(result, own) {
    const strip = $("#variations");
    strip.innerHTML = "";
    const choices = [
      ...(own ? [[own, "yours", `${own.name} as you made it`]] : []),
      [result.source, "as heard", "your sound as the model hears it (what exports and saved sessions hold)"],
      ...result.variations.map((sound, index) => [sound, String(index + 1), `variation ${index + 1}`]),
    ];
    for (const [sound, text, title] of choices) {
      const button = document.createElement("button");
      button.className = "variation";
      button.textContent = text;
      button.title = title;
      button.addEventListener("click", guarded(async () => {
        await assign(selected, sound);
        hit(selected, KEY_VELOCITY);
      }));
      strip.append(button);
    }
  }

  // --- the pads --------------------------------------------------------------------------------

  for (const pad of pads) $("#pads").append(buildPad(pad, actions));
  for (const button of bar.querySelectorAll("button")) button.addEventListener("click", () => actions[button.dataset.act](selected));
  bar.querySelector('[data-act="amount"]').addEventListener("input", (event) => {
    selected.amount = Number(event.target.value);
    redraw(selected);
  });

  async function newKit(seed) {
    status("new kit…");
    const result = await api.kit(seed, Number($("#spread").value), Number($("#temperature").value));
    await Promise.all(
      pads.filter((pad) => !pad.locked && result.pads[pad.info.name]).map((pad) => assign(pad, result.pads[pad.info.name])),
    );
    hook.kitSeed = seed;
    status(`kit ${seed}`);
  }

  $("#new-kit").addEventListener("click", guarded(() => newKit(api.randomSeed())));

  // --- the sequencer ---------------------------------------------------------------------------

  const grid = $("#grid");
  const stepVelocity = $("#step-velocity");
  // The step velocity slider follows the last clicked or dragged cell, and sets it.
  function showStepVelocity(velocity) {
    if (velocity > 0) stepVelocity.value = velocity;
    const cell = sequencer.selected;
    $("#step-velocity-value").textContent = cell ? `${byName.get(cell.pad).info.label} ${cell.step + 1}: ${velocity || "off"}` : "pick a step";
  }
  const redrawGrid = () => buildGrid(grid, sequencer, (pad, step, velocity) => showStepVelocity(velocity));
  stepVelocity.addEventListener("input", () => {
    const cell = sequencer.selected;
    if (!cell || cell.step >= sequencer.steps) return;
    const velocity = sequencer.setVelocity(cell.pad, cell.step, Number(stepVelocity.value));
    showCell(grid.querySelector(`.cell[data-pad="${cell.pad}"][data-step="${cell.step}"]`), velocity);
    showStepVelocity(velocity);
  });
  for (const [name, steps] of Object.entries(STARTER_PATTERN)) {
    for (const [step, velocity] of Object.entries(steps)) if (sequencer.cells[name]) sequencer.setVelocity(name, Number(step), velocity);
  }
  redrawGrid();
  sequencer.onStep = (step) => {
    showStep(grid, step);
    followPlayhead(step);
  };
  // Where the grid is wider than its panel (phones, tablets), keep the playhead in view: a step that
  // has run off the right (or, at the loop, the left) scrolls the grid to put it first after the labels.
  function followPlayhead(step) {
    if (step < 0 || grid.scrollWidth <= grid.clientWidth) return;
    const cell = grid.querySelector(`.cell[data-step="${step}"]`);
    const label = grid.querySelector(".row-label").getBoundingClientRect();
    const box = grid.getBoundingClientRect();
    const place = cell.getBoundingClientRect();
    if (place.right > box.right || place.left < label.right) grid.scrollBy({ left: place.left - label.right - 3 });
  }

  function togglePlay() {
    engine.resume();
    if (sequencer.playing) sequencer.stop();
    else sequencer.start();
    $("#play").textContent = sequencer.playing ? "■" : "▶";
    $("#play").classList.toggle("on", sequencer.playing);
  }

  $("#play").addEventListener("click", togglePlay);
  $("#tempo").addEventListener("change", (event) => {
    sequencer.tempo = Math.min(300, Math.max(40, Number(event.target.value) || 100));
    event.target.value = sequencer.tempo;
  });
  $("#swing").addEventListener("input", (event) => { sequencer.swing = Number(event.target.value); });
  $("#steps").addEventListener("change", (event) => {
    sequencer.setSteps(Number(event.target.value));
    redrawGrid();
  });
  $("#clear").addEventListener("click", () => {
    for (const row of Object.values(sequencer.cells)) row.fill(0);
    redrawGrid();
  });

  // --- master volume and meter -----------------------------------------------------------------

  const master = $("#master");
  const showMaster = () => {
    const db = Number(master.value);
    engine.volume.gain.value = 10 ** (db / 20);
    $("#master-value").textContent = `${db < 0 ? "−" : ""}${Math.abs(db).toFixed(1)} dB`;
  };
  master.addEventListener("input", showMaster);
  showMaster();
  // The meter shows the output's peak after the limiter, holding it and letting it fall slowly.
  hook.meter = { peakDb: meterFloorDb };
  const meter = $("#meter");
  (function drawMeter() {
    hook.meter.peakDb = Math.max(engine.peakDb(), hook.meter.peakDb - METER_FALL_DB);
    const level = (hook.meter.peakDb - meterFloorDb) / -meterFloorDb;
    meter.dataset.level = level.toFixed(3);
    meter.style.setProperty("--level", level.toFixed(3));
    meter.classList.toggle("hot", hook.meter.peakDb > -3);
    requestAnimationFrame(drawMeter);
  })();

  // --- keyboard --------------------------------------------------------------------------------

  const padByKey = new Map(pads.map((pad) => [pad.info.key, pad]));
  document.addEventListener("keydown", (event) => {
    if (event.target.matches("input[type=number], input[type=text], select") || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.code === "Space") {
      event.preventDefault();
      togglePlay();
      return;
    }
    const pad = padByKey.get(event.key.toLowerCase());
    if (pad && !event.repeat) {
      event.preventDefault();
      hit(pad, event.shiftKey ? ACCENT_VELOCITY : KEY_VELOCITY, event.timeStamp);
    }
  });

  // --- MIDI in: a note on plays the pad on that General MIDI note, at its velocity, on any channel ---

  function onMidi(event) {
    const [command, note, velocity] = event.data;
    if ((command & 0xf0) !== 0x90 || velocity === 0) return; // a note on at velocity 0 is a note off
    const pad = padByNote.get(note);
    if (pad) hit(pad, velocity, event.timeStamp);
  }

  async function connectMidi() {
    const button = $("#midi");
    if (!navigator.requestMIDIAccess) {
      button.textContent = "no MIDI here";
      button.title = "This browser has no Web MIDI (Chrome, Edge and Opera do)";
      return;
    }
    let access;
    try {
      access = await navigator.requestMIDIAccess();
    } catch {
      button.textContent = "MIDI refused";
      return;
    }
    const bind = () => {
      const names = [];
      for (const input of access.inputs.values()) {
        input.onmidimessage = onMidi;
        names.push(input.name);
      }
      button.textContent = names.length ? `MIDI: ${names.join(", ")}` : "MIDI: no controller";
      button.classList.toggle("on", names.length > 0);
    };
    bind();
    access.onstatechange = bind; // a controller plugged in later
  }
  $("#midi").addEventListener("click", guarded(connectMidi));
  // Where the browser already allows MIDI, connect at once; otherwise the button asks (no prompt on load).
  navigator.permissions?.query({ name: "midi" }).then((state) => state.state === "granted" && connectMidi(), () => {});

  // --- sound controls --------------------------------------------------------------------------

  $("#morph").max = model.morph_steps - 1;
  $("#morph").addEventListener("change", guarded(async (event) => {
    const target = byName.get($("#morph-target").value);
    if (!origin || !target?.sound) return;
    await assign(selected, await api.morph(origin, target.sound, Number(event.target.value)), { keepOrigin: true });
    hit(selected, KEY_VELOCITY);
  }));
  $("#upload-input").addEventListener("change", guarded(async (event) => {
    const file = event.target.files[0];
    event.target.value = "";
    if (file) await dropFile(selected, file);
  }));
  const zone = $("#drop-zone");
  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("drop"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("drop"));
  zone.addEventListener("drop", guarded(async (event) => {
    event.preventDefault();
    zone.classList.remove("drop");
    if (event.dataTransfer.files[0]) await dropFile(selected, event.dataTransfer.files[0]);
  }));

  // --- map, similar, history -------------------------------------------------------------------

  async function audition(item) {
    const sound = item.id ? { ...item, url: `/api/sounds/${item.id}.wav` } : await api.render(item);
    const where = item.source === "spot" ? "the spot you clicked" : item.source === "library" ? "your library" : "this session";
    picked = hook.picked = sound;
    $("#map-picked").textContent = `picked: ${sound.instrument} from ${where}`;
    $("#map-use").disabled = false;
    engine.resume();
    engine.preview(await engine.load(sound));
    return sound;
  }

  // Put a picked sound on the selected pad, and say so when its class is not the pad's.
  async function use(item) {
    const sound = item.url && item.sample_rate ? item : await api.render(item);
    const pad = selected;
    await assign(pad, sound);
    hit(pad, KEY_VELOCITY);
    const other = sound.instrument !== pad.info.instrument;
    status(other
      ? `${pad.info.label} pad now plays a ${sound.instrument} sound, not a ${pad.info.instrument} (↶ on the pad takes it back)`
      : `${pad.info.label} pad: the picked ${sound.instrument} sound`);
  }

  const pickOnMap = guarded(async (point) => audition(await mapSound(point)));
  const soundMap = (hook.soundMap = new SoundMap($("#map"), $("#map-legend"), model.instruments, pickOnMap));
  $("#map-refresh").addEventListener("click", guarded(() => soundMap.refresh()));
  $("#map-use").addEventListener("click", guarded(() => picked && use(picked)));
  $("#similar").addEventListener("click", guarded(async () => {
    if (!selected.sound) return;
    const result = await api.similar(selected.sound);
    if (!result.library) {
      $("#similar-list").innerHTML = "<li>start <code>dkvae serve --bank BANK</code> to compare with your own sounds</li>";
      return;
    }
    showList($("#similar-list"), result.matches, (m) => `${m.name} (${m.instrument}, ${m.distance.toFixed(2)})`, guarded(audition), guarded(use));
  }));
  async function refreshHistory() {
    const sounds = await api.history(30);
    showList($("#history-list"), sounds, (s) => `${s.operation} ${s.instrument} ${s.seed ?? ""} · ${s.id}`, guarded(audition), guarded(use));
  }
  $("#history-refresh").addEventListener("click", guarded(refreshHistory));

  // --- keep what you make ----------------------------------------------------------------------

  $("#save").addEventListener("click", () => {
    const document_ = sessionDocument(model, pads, sequencer);
    saveBlob(new Blob([JSON.stringify(document_, null, 2)], { type: "application/json" }), "dkvae-session.json");
  });
  $("#load").addEventListener("click", () => $("#load-input").click());
  $("#load-input").addEventListener("change", guarded(async (event) => {
    const file = event.target.files[0];
    event.target.value = "";
    if (!file) return;
    const session = parseSession(await file.text());
    sequencer.selected = null;
    Object.assign(sequencer, { steps: session.sequencer.steps, tempo: session.sequencer.tempo, swing: session.sequencer.swing });
    for (const [name, row] of Object.entries(session.sequencer.cells)) if (sequencer.cells[name]) sequencer.cells[name] = row.slice(0, 32);
    $("#tempo").value = sequencer.tempo;
    $("#swing").value = sequencer.swing;
    $("#steps").value = sequencer.steps;
    redrawGrid();
    await Promise.all(Object.entries(session.pads).filter(([name]) => byName.has(name)).map(async ([name, saved]) => {
      const pad = byName.get(name);
      Object.assign(pad, { locked: Boolean(saved.locked), amount: saved.amount ?? pad.amount, settings: { ...DEFAULT_SETTINGS, ...saved.settings } });
      await assign(pad, await api.render(saved.sound));
    }));
    select(selected);
    status(`loaded ${file.name}`);
  }));
  // The exports carry each pad's mix settings and each step's velocity, so they sound as the page does.
  const patternBody = () => ({
    pads: padRefs(pads), pattern: sequencer.pattern(), velocities: sequencer.velocities(), settings: padSettings(pads),
    steps: sequencer.steps, tempo: sequencer.tempo, swing: sequencer.swing,
  });
  // Pads playing the user's own file are exported as the model hears it: the server has only its latent.
  const ownNote = () => {
    const own = pads.filter((pad) => pad.sound?.operation === "yours").map((pad) => pad.info.label);
    return own.length ? ` (${own.join(", ")}: your own sound exported as the model hears it)` : "";
  };
  $("#export-kit").addEventListener("click", guarded(async () => {
    status("exporting kit…");
    const body = { pads: padRefs(pads), settings: padSettings(pads), format: $("#export-format").value, name: "DKVAE web kit" };
    const name = await saveResponse(await api.exportKit(body), "kit.zip");
    status(`saved ${name}${ownNote()}`);
  }));
  $("#export-loop").addEventListener("click", guarded(async () => status(`saved ${await saveResponse(await api.exportLoop(patternBody()), "loop.wav")}${ownNote()}`)));
  $("#export-midi").addEventListener("click", guarded(async () => status(`saved ${await saveResponse(await api.exportMidi(patternBody()), "pattern.mid")}`)));

  // --- start -----------------------------------------------------------------------------------

  await newKit(FIRST_KIT_SEED);
  select(pads[0]);
  await guarded(() => soundMap.refresh())();
  await guarded(refreshHistory)();
  status(`ready · model ${model.model_id} · ${model.pads.length} pads`);
  hook.ready = true;
}

main().catch((error) => status(`cannot start: ${error.message}`, true));
