// The step sequencer: a grid of pads x steps and a look-ahead scheduler on the audio clock.
//
// A timer only wakes the scheduler up; every hit is placed at an exact AudioContext time
// (sample-accurate, no timer drift), up to LOOKAHEAD seconds ahead. A pad's sound is looked up when
// its hit is scheduled, so a pad regenerated while the pattern plays is heard on its next hit.

const LOOKAHEAD = 0.1; // seconds of hits scheduled ahead of the audio clock
const WAKE_MS = 25; // how often the scheduler wakes up
const START_DELAY = 0.05; // seconds between pressing play and the first step
const MAX_STEPS = 32;
const VELOCITY = [0, 100, 127]; // rest, hit, accent

export class Sequencer {
  // `pads`: the layout's pads; `engine`: the Engine; `bufferOf(pad)`: the pad's current AudioBuffer or null.
  constructor(pads, engine, bufferOf) {
    this.pads = pads;
    this.engine = engine;
    this.bufferOf = bufferOf;
    this.steps = 16;
    this.tempo = 100;
    this.swing = 0;
    this.cells = Object.fromEntries(pads.map((pad) => [pad.name, new Array(MAX_STEPS).fill(0)]));
    this.playing = false;
    this.scheduled = []; // every hit scheduled since play: { pad, step, bar, time, velocity, buffer } (read by tests)
    this.queue = []; // { step, time } for the playhead
    this.onStep = () => {};
  }

  get stepSeconds() {
    return 60 / this.tempo / 4;
  }

  toggleCell(pad, step) {
    const row = this.cells[pad];
    row[step] = (row[step] + 1) % 3;
    return row[step];
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
      const value = this.cells[pad.name][step];
      const buffer = value ? this.bufferOf(pad.name) : null;
      if (!buffer) continue;
      this.engine.play(pad.name, buffer, time, VELOCITY[value]);
      this.scheduled.push({ pad: pad.name, step, bar: this.bar, time, velocity: VELOCITY[value], buffer });
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

  // The pattern as the export routes take it.
  pattern() {
    return Object.fromEntries(Object.entries(this.cells).map(([pad, row]) => [pad, row.slice(0, this.steps)]));
  }
}

// Draw the grid: one row per pad, one cell per step; `onToggle(pad, step, value)` after a click.
export function buildGrid(container, sequencer, onToggle) {
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
      cell.dataset.value = sequencer.cells[pad.name][step];
      cell.title = `${pad.label}, step ${step + 1}`;
      cell.addEventListener("click", () => {
        cell.dataset.value = sequencer.toggleCell(pad.name, step);
        onToggle(pad.name, step, Number(cell.dataset.value));
      });
      row.append(cell);
    }
    container.append(row);
  }
}

// Light the playhead's column (-1: none).
export function showStep(container, step) {
  for (const cell of container.querySelectorAll(".cell.now")) cell.classList.remove("now");
  if (step >= 0) for (const cell of container.querySelectorAll(`.cell[data-step="${step}"]`)) cell.classList.add("now");
}
