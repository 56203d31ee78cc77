// The sound map (library and session sounds on two axes, coloured by class), similar sounds and the history list.

import * as api from "./api.js";

const COLOURS = ["#ff5f5f", "#ffb347", "#f5e663", "#7ee081", "#5fd7ff", "#a98bff", "#ff7fd1", "#cfcfcf"];
const HIT_RADIUS = 9; // pixels around a point that pick it

export class SoundMap {
  constructor(canvas, legend, instruments, onPick) {
    this.canvas = canvas;
    this.legend = legend;
    this.instruments = instruments;
    this.onPick = onPick;
    this.points = [];
    this.picked = null;
    canvas.addEventListener("click", (event) => this.click(event));
    legend.innerHTML = instruments
      .map((name) => `<span><i class="dot c${this.colourIndex(name)}"></i>${name}</span>`)
      .join("") + '<span><i class="dot ring"></i>your library</span>';
  }

  colourIndex(instrument) {
    return Math.max(0, this.instruments.indexOf(instrument)) % COLOURS.length;
  }

  async refresh() {
    this.points = (await api.soundMap()).points;
    this.draw();
  }

  position(point) {
    const margin = 14;
    return [margin + ((point.x + 1) / 2) * (this.canvas.width - 2 * margin), margin + ((1 - point.y) / 2) * (this.canvas.height - 2 * margin)];
  }

  draw() {
    const context = this.canvas.getContext("2d");
    context.clearRect(0, 0, this.canvas.width, this.canvas.height);
    for (const point of this.points) {
      const [x, y] = this.position(point);
      context.beginPath();
      context.arc(x, y, point === this.picked ? 6 : 3.5, 0, 2 * Math.PI);
      const colour = COLOURS[this.colourIndex(point.instrument)];
      if (point.source === "library") {
        context.strokeStyle = colour;
        context.lineWidth = 1.5;
        context.stroke();
      } else {
        context.fillStyle = colour;
        context.fill();
      }
    }
  }

  click(event) {
    const box = this.canvas.getBoundingClientRect();
    const x = ((event.clientX - box.left) / box.width) * this.canvas.width;
    const y = ((event.clientY - box.top) / box.height) * this.canvas.height;
    let best = null;
    let bestDistance = HIT_RADIUS;
    for (const point of this.points) {
      const [px, py] = this.position(point);
      const distance = Math.hypot(px - x, py - y);
      if (distance < bestDistance) [best, bestDistance] = [point, distance];
    }
    if (!best) return;
    this.picked = best;
    this.draw();
    this.onPick(best);
  }
}

// A list of sounds with a play and a use button each; `describe(item)` gives its text.
export function showList(list, items, describe, play, use) {
  list.innerHTML = "";
  for (const item of items) {
    const entry = document.createElement("li");
    entry.innerHTML = `<button class="small-button" data-act="play">▶</button><button class="small-button" data-act="use">use</button><span></span>`;
    entry.querySelector("span").textContent = describe(item);
    entry.querySelector('[data-act="play"]').addEventListener("click", () => play(item));
    entry.querySelector('[data-act="use"]').addEventListener("click", () => use(item));
    list.append(entry);
  }
}
