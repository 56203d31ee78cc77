// The pads: one per kit slot, each with its sound, an undo/redo history, a lock, its mix settings and a waveform.

import { DEFAULT_SETTINGS } from "./engine.js";

const HISTORY_LIMIT = 64;

// A pad's state: its layout entry, current sound and history, lock, variation amount and mix settings
// (volume, tune, decay, pan: applied when it plays and in the exports).
export function padState(info) {
  return { info, sound: null, buffer: null, history: [], position: -1, locked: false, amount: 0.3, settings: { ...DEFAULT_SETTINGS } };
}

// Make `sound` the pad's sound; `record` adds it to the pad's history (dropping any redo steps).
export function setSound(pad, sound, buffer, record = true) {
  if (record) {
    pad.history = pad.history.slice(0, pad.position + 1);
    pad.history.push(sound);
    if (pad.history.length > HISTORY_LIMIT) pad.history.shift();
    pad.position = pad.history.length - 1;
  }
  pad.sound = sound;
  pad.buffer = buffer;
}

// Step through the pad's history (-1 undo, +1 redo); returns the sound there, or null at an end.
export function stepHistory(pad, direction) {
  const position = pad.position + direction;
  if (position < 0 || position >= pad.history.length) return null;
  pad.position = position;
  return pad.history[position];
}

// The pad element: a face to hit (velocity from where it is hit) and its tools.
export function buildPad(pad, actions) {
  const element = document.createElement("div");
  element.className = "pad";
  element.dataset.pad = pad.info.name;
  element.dataset.instrument = pad.info.instrument;
  element.innerHTML = `
    <div class="face" title="${pad.info.label}: key ${pad.info.key.toUpperCase()}">
      <span class="key">${pad.info.key.toUpperCase()}</span>
      <span class="name">${pad.info.label}</span>
      <canvas class="wave" width="200" height="44"></canvas>
      <span class="meta"></span>
    </div>
    <div class="tools">
      <button data-act="new" title="New sound (another seed)">new</button>
      <button data-act="vary" title="A variation, as far away as the vary amount below">vary</button>
      <button data-act="lock" title="Keep this sound on New kit">lock</button>
      <button data-act="undo" title="Undo" aria-label="undo">↶</button>
      <button data-act="redo" title="Redo" aria-label="redo">↷</button>
    </div>
    <label class="amount" title="How far vary and a dropped file's variations stray, in spreads of the class">
      <span>vary amount</span>
      <input data-act="amount" type="range" min="0.05" max="1" step="0.05" value="${pad.amount}">
      <output>${pad.amount.toFixed(2)}</output>
    </label>`;
  const face = element.querySelector(".face");
  face.addEventListener("pointerdown", (event) => {
    const box = face.getBoundingClientRect();
    const height = Math.min(1, Math.max(0, (event.clientY - box.top) / box.height));
    actions.hit(pad, Math.round(127 - 77 * height), event.timeStamp);
  });
  for (const button of element.querySelectorAll(".tools button")) {
    button.addEventListener("click", () => actions[button.dataset.act](pad));
  }
  element.querySelector('[data-act="amount"]').addEventListener("input", (event) => {
    pad.amount = Number(event.target.value);
    element.querySelector(".amount output").textContent = pad.amount.toFixed(2);
    actions.amount(pad);
  });
  element.addEventListener("dragover", (event) => {
    event.preventDefault();
    element.classList.add("drop");
  });
  element.addEventListener("dragleave", () => element.classList.remove("drop"));
  element.addEventListener("drop", (event) => {
    event.preventDefault();
    element.classList.remove("drop");
    const file = event.dataTransfer.files[0];
    if (file) actions.drop(pad, file);
  });
  pad.element = element;
  return element;
}

// Redraw what the pad shows: waveform, lock, class and seed, history buttons.
export function drawPad(pad) {
  const element = pad.element;
  element.classList.toggle("locked", pad.locked);
  element.querySelector('[data-act="lock"]').classList.toggle("on", pad.locked);
  element.querySelector('[data-act="undo"]').disabled = pad.position <= 0;
  element.querySelector('[data-act="redo"]').disabled = pad.position >= pad.history.length - 1;
  element.querySelector('[data-act="amount"]').value = pad.amount;
  element.querySelector(".amount output").textContent = pad.amount.toFixed(2);
  const sound = pad.sound;
  element.querySelector(".meta").textContent = sound
    ? `${sound.operation} · ${sound.seed ?? "—"} · ${(sound.samples / sound.sample_rate).toFixed(2)}s`
    : "";
  drawWave(element.querySelector(".wave"), pad.buffer);
}

// A min/max waveform of `buffer` across the canvas.
export function drawWave(canvas, buffer) {
  const context = canvas.getContext("2d");
  const { width, height } = canvas;
  context.clearRect(0, 0, width, height);
  if (!buffer) return;
  const data = buffer.getChannelData(0);
  const per = Math.max(1, Math.floor(data.length / width));
  context.fillStyle = getComputedStyle(canvas).color;
  for (let x = 0; x < width; x += 1) {
    let low = 0;
    let high = 0;
    for (let i = x * per; i < Math.min(data.length, (x + 1) * per); i += 1) {
      if (data[i] < low) low = data[i];
      if (data[i] > high) high = data[i];
    }
    const top = ((1 - high) / 2) * height;
    context.fillRect(x, top, 1, Math.max(1, ((high - low) / 2) * height));
  }
}
