// The drum machine page: loads the model's pads and a first kit, and wires pads, sequencer, controls and keys.
//
// `window.dkvae` exposes the live state (pads, engine, sequencer, last hit) for the browser tests.

import * as api from "./api.js";
import { Engine } from "./engine.js";
import { SoundMap, showList } from "./library.js";
import { showMorphTargets, showSliders } from "./panel.js";
import { buildPad, drawPad, padState, setSound, stepHistory } from "./pads.js";
import { Sequencer, buildGrid, showStep } from "./sequencer.js";
import { padRefs, parseSession, saveBlob, saveResponse, sessionDocument } from "./session.js";

const FIRST_KIT_SEED = 0;
const UPLOAD_VARIATIONS = 8;
const KEY_VELOCITY = 100;
const ACCENT_VELOCITY = 127;

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
  const sequencer = new Sequencer(model.pads, engine, (name) => byName.get(name).buffer);
  let selected = pads[0];
  let origin = null; // the selected pad's sound the sliders and morph start from
  let picked = null; // a sound picked on the map or in a list, to audition or use
  Object.assign(hook, { model, engine, pads, byName, sequencer });

  // --- sounds on pads --------------------------------------------------------------------------

  async function assign(pad, sound, { record = true, keepOrigin = false } = {}) {
    const buffer = await engine.load(sound);
    setSound(pad, sound, buffer, record);
    drawPad(pad);
    if (pad === selected && !keepOrigin) select(pad);
    else if (pad === selected) showSelection();
    return buffer;
  }

  function hit(pad, velocity, eventTime = performance.now()) {
    engine.resume();
    if (!pad.buffer) return;
    const start = engine.play(pad.info.name, pad.buffer, 0, velocity);
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

  function showSelection() {
    for (const pad of pads) pad.element.classList.toggle("selected", pad === selected);
    const sound = selected.sound;
    $("#sel-name").textContent = selected.info.label;
    $("#sel-info").textContent = sound ? `${sound.instrument} · ${sound.operation} · seed ${sound.seed ?? "—"} · ${sound.id}` : "—";
    $("#sel-sidecar").href = sound ? sound.sidecar : "#";
  }

  function select(pad) {
    selected = pad;
    origin = pad.sound;
    showSelection();
    showMorphTargets($("#morph-target"), pads, pad);
    $("#morph").value = 0;
    guarded(showSliders)($("#sliders"), origin, guarded((sound) => assign(selected, sound, { keepOrigin: true }).then(() => hit(selected, KEY_VELOCITY))));
  }

  const actions = {
    hit,
    new: guarded(async (pad) => {
      await assign(pad, await api.generate(pad.info.instrument, api.randomSeed(), Number($("#temperature").value)));
      hit(pad, KEY_VELOCITY);
    }),
    lock: (pad) => {
      pad.locked = !pad.locked;
      drawPad(pad);
    },
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

  async function dropFile(pad, file) {
    if (file.size > model.max_upload_bytes) throw new Error(`${file.name} is over ${model.max_upload_bytes / 2 ** 20} MiB`);
    status(`analysing ${file.name}…`);
    const result = await api.upload(file, pad.amount, UPLOAD_VARIATIONS, api.randomSeed());
    if (pad !== selected) select(pad);
    await assign(pad, result.variations[0]);
    showVariations(result);
    hook.lastUpload = result;
    status(`${file.name}: heard as ${result.instrument}; ${result.variations.length} variations`);
    hit(pad, KEY_VELOCITY);
  }

  function showVariations(result) {
    const strip = $("#variations");
    strip.innerHTML = "";
    for (const [index, sound] of [result.source, ...result.variations].entries()) {
      const button = document.createElement("button");
      button.className = "variation";
      button.textContent = index === 0 ? "as heard" : String(index);
      button.title = index === 0 ? "your sound as the model hears it" : `variation ${index}`;
      button.addEventListener("click", guarded(async () => {
        await assign(selected, sound);
        hit(selected, KEY_VELOCITY);
      }));
      strip.append(button);
    }
  }

  // --- the pads --------------------------------------------------------------------------------

  for (const pad of pads) $("#pads").append(buildPad(pad, actions));

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
  buildGrid(grid, sequencer, () => {});
  sequencer.onStep = (step) => showStep(grid, step);

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
    sequencer.steps = Number(event.target.value);
    buildGrid(grid, sequencer, () => {});
  });
  $("#clear").addEventListener("click", () => {
    for (const row of Object.values(sequencer.cells)) row.fill(0);
    buildGrid(grid, sequencer, () => {});
  });

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
    picked = sound;
    engine.resume();
    engine.preview(await engine.load(sound));
    $("#map-use").disabled = false;
    return sound;
  }

  async function use(item) {
    const sound = item.url && item.sample_rate ? item : await api.render(item);
    await assign(selected, sound);
    hit(selected, KEY_VELOCITY);
  }

  const soundMap = new SoundMap($("#map"), $("#map-legend"), model.instruments, guarded(audition));
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
    Object.assign(sequencer, { steps: session.sequencer.steps, tempo: session.sequencer.tempo, swing: session.sequencer.swing });
    for (const [name, row] of Object.entries(session.sequencer.cells)) if (sequencer.cells[name]) sequencer.cells[name] = row.slice(0, 32);
    $("#tempo").value = sequencer.tempo;
    $("#swing").value = sequencer.swing;
    $("#steps").value = sequencer.steps;
    buildGrid(grid, sequencer, () => {});
    await Promise.all(Object.entries(session.pads).filter(([name]) => byName.has(name)).map(async ([name, saved]) => {
      const pad = byName.get(name);
      Object.assign(pad, { locked: Boolean(saved.locked), amount: saved.amount ?? pad.amount });
      await assign(pad, await api.render(saved.sound));
    }));
    status(`loaded ${file.name}`);
  }));
  const patternBody = () => ({ pads: padRefs(pads), pattern: sequencer.pattern(), steps: sequencer.steps, tempo: sequencer.tempo, swing: sequencer.swing });
  $("#export-kit").addEventListener("click", guarded(async () => {
    status("exporting kit…");
    const name = await saveResponse(await api.exportKit({ pads: padRefs(pads), format: $("#export-format").value, name: "DKVAE web kit" }), "kit.zip");
    status(`saved ${name}`);
  }));
  $("#export-loop").addEventListener("click", guarded(async () => status(`saved ${await saveResponse(await api.exportLoop(patternBody()), "loop.wav")}`)));
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
