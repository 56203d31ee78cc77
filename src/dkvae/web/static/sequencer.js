// The step sequencer: a grid of pads x steps and a look-ahead scheduler on the audio clock.
//
// Each cell holds a MIDI velocity, 0 for a rest: a click cycles rest -> hit (100) -> accent (127) -> rest,
// and dragging a cell up or down with a mouse or pen sets any level from 1 to 127 (a finger's drag
// scrolls the page instead; the transport's step velocity slider sets the last touched cell).
//
// A timer only wakes the scheduler up; every hit is placed at an exact AudioContext time
// (sample-accurate, no timer drift), up to LOOKAHEAD seconds ahead. A pad's sound is looked up when
// its hit is scheduled, so a pad regenerated while the pattern plays is heard on its next hit.

const LOOKAHEAD = 0.1; // seconds of hits scheduled ahead of the audio clock
const WAKE_MS = 25; // how often the scheduler wakes up
const START_DELAY = 0.05; // seconds between pressing play and the first step
const MAX_STEPS = 32;
export const HIT = 100;
export const ACCENT = 127;
const DRAG_START_PX = 4; // a press that moves less than this is a click
const VELOCITY_PER_PX = 1.5; // how fast a drag changes a step's velocity

export class Sequencer {
  // `pads`: the layout's pads; `engine`: the Engine; `voiceOf(pad)`: the pad's current { buffer, settings }
  // (buffer null while it has none).
  constructor(pads, engine, voiceOf) {
    this.pads = pads;
    this.engine = engine;
    this.voiceOf = voiceOf;
    this.steps = 16;
    this.tempo = 100;
    this.swing = 0;
    this.cells = Object.fromEntries(pads.map((pad) => [pad.name, new Array(MAX_STEPS).fill(0)]));
    this.playing = false;
    this.scheduled = []; // every hit scheduled since play: { pad, step, bar, time, velocity, buffer } (read by tests)
    this.queue = []; // { step, time } for the playhead
    this.onStep = () => {};
    this.selected = null; // the last clicked or dragged cell, { pad, step }: the step velocity slider's
  }

  get stepSeconds() {
    return 60 / this.tempo / 4;
  }

  // Rest -> hit -> accent -> rest; a step at another level becomes a rest.
  toggleCell(pad, step) {
    const row = this.cells[pad];
    row[step] = row[step] === 0 ? HIT : row[step] === HIT ? ACCENT : 0;
    return row[step];
  }

  setVelocity(pad, step, velocity) {
    this.cells[pad][step] = Math.round(Math.min(127, Math.max(0, velocity)));
    return this.cells[pad][step];
  }

  // Switch between 16 and 32 steps; going to 32 with an empty bar 2 copies bar 1 into it, so the
  // groove goes on instead of stopping half way.
  setSteps(steps) {
    const rows = Object.values(this.cells);
    if (steps === 32 && this.steps === 16 && rows.every((row) => row.slice(16).every((v) => v === 0))) {
      for (const row of rows) row.copyWithin(16, 0, 16);
    }
    this.steps = steps;
  }

  start() {
    if (this.playing) return;
    this.playing = true;
    this.scheduled = [];
    this.step = 0;
    this.bar = 0;
    this.gridTime = this.engine.ctx.currentTime + START_DELAY;
    this.wake();
    this.draw();
  }

  stop() {
    this.playing = false;
    clearTimeout(this.timer);
    this.queue = [];
    this.onStep(-1);
  }

  wake() {
    const horizon = this.engine.ctx.currentTime + LOOKAHEAD;
    while (this.gridTime < horizon) {
      const swing = this.step % 2 ? this.swing * this.stepSeconds : 0;
      this.schedule(this.step, this.gridTime + swing);
      this.gridTime += this.stepSeconds;
      this.step += 1;
      if (this.step >= this.steps) {
        this.step = 0;
        this.bar += 1;
      }
    }
    this.timer = setTimeout(() => this.playing && this.wake(), WAKE_MS);
  }

  schedule(step, time) {
    for (const pad of this.pads) {
      const velocity = this.cells[pad.name][step];
      const { buffer, settings } = velocity ? this.voiceOf(pad.name) : {};
      if (!buffer) continue;
      this.engine.play(pad.name, buffer, time, velocity, settings);
      this.scheduled.push({ pad: pad.name, step, bar: this.bar, time, velocity, buffer });
    }
    this.queue.push({ step, time });
  }

  // The playhead follows the audio clock, not the timer.
  draw() {
    if (!this.playing) return;
    const now = this.engine.ctx.currentTime;
    let current = null;
    while (this.queue.length && this.queue[0].time <= now) current = this.queue.shift();
    if (current) this.onStep(current.step);
    requestAnimationFrame(() => this.draw());
  }

  // The pattern as the export routes take it: 0 rest, 1 hit, 2 accent per step...
  pattern() {
    const code = (velocity) => (velocity === 0 ? 0 : velocity >= ACCENT ? 2 : 1);
    return Object.fromEntries(Object.entries(this.cells).map(([pad, row]) => [pad, row.slice(0, this.steps).map(code)]));
  }

  // ...and each step's own velocity.
  velocities() {
    return Object.fromEntries(Object.entries(this.cells).map(([pad, row]) => [pad, row.slice(0, this.steps)]));
  }
}

// Draw the grid: one row per pad, one cell per step; `onChange(pad, step, velocity)` after a click or drag.
export function buildGrid(container, sequencer, onChange) {
  container.innerHTML = "";
  container.style.setProperty("--steps", sequencer.steps);
  for (const pad of sequencer.pads) {
    const row = document.createElement("div");
    row.className = "row";
    const label = document.createElement("span");
    label.className = "row-label";
    label.textContent = pad.label;
    row.append(label);
    for (let step = 0; step < sequencer.steps; step += 1) {
      const cell = document.createElement("button");
      cell.className = "cell" + (step % 4 === 0 ? " beat" : "");
      cell.dataset.pad = pad.name;
      cell.dataset.step = step;
      cell.dataset.label = pad.label;
      showCell(cell, sequencer.cells[pad.name][step]);
      if (sequencer.selected?.pad === pad.name && sequencer.selected.step === step) cell.classList.add("picked");
      const changed = (velocity) => {
        sequencer.selected = { pad: pad.name, step };
        for (const other of container.querySelectorAll(".cell.picked")) other.classList.remove("picked");
        cell.classList.add("picked");
        showCell(cell, velocity);
        onChange(pad.name, step, velocity);
      };
      let drag = null; // { y, velocity, moved } while a mouse or pen presses the cell
      cell.addEventListener("pointerdown", (event) => {
        if (event.pointerType === "touch" || event.button !== 0) return;
        drag = { y: event.clientY, velocity: sequencer.cells[pad.name][step] || HIT, moved: false };
        cell.setPointerCapture(event.pointerId); // keep the drag when it leaves the small cell
      });
      cell.addEventListener("pointermove", (event) => {
        if (!drag) return;
        const dy = drag.y - event.clientY;
        if (!drag.moved && Math.abs(dy) < DRAG_START_PX) return;
        drag.moved = true;
        changed(sequencer.setVelocity(pad.name, step, Math.max(1, drag.velocity + dy * VELOCITY_PER_PX)));
      });
      const release = () => { setTimeout(() => { drag = null; }, 0); }; // after the click it may cause
      cell.addEventListener("pointerup", release);
      cell.addEventListener("pointercancel", release);
      cell.addEventListener("click", () => {
        if (drag?.moved) return; // the end of a drag, not a click
        changed(sequencer.toggleCell(pad.name, step));
      });
      row.append(cell);
    }
    container.append(row);
  }
}

// Show a cell's velocity: lit when on, its level as the height of the light, accents in another colour.
export function showCell(cell, velocity) {
  cell.dataset.velocity = velocity;
  cell.classList.toggle("on", velocity > 0);
  cell.classList.toggle("accent", velocity >= ACCENT);
  cell.style.setProperty("--level", (velocity / 127).toFixed(3));
  cell.title = `${cell.dataset.label}, step ${Number(cell.dataset.step) + 1}${velocity ? `, velocity ${velocity}` : ""}`;
  cell.setAttribute("aria-label", cell.title);
}

// Light the playhead's column (-1: none).
export function showStep(container, step) {
  for (const cell of container.querySelectorAll(".cell.now")) cell.classList.remove("now");
  if (step >= 0) for (const cell of container.querySelectorAll(`.cell[data-step="${step}"]`)) cell.classList.add("now");
}
