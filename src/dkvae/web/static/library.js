// The sound map (library and session sounds on two axes, coloured by class), similar sounds and the history list.

import * as api from "./api.js";

const COLOURS = ["#ff5f5f", "#ffb347", "#f5e663", "#7ee081", "#5fd7ff", "#a98bff", "#ff7fd1", "#cfcfcf"];
const HIT_RADIUS = 9; // CSS pixels around a point that pick it; a click farther from every point renders the spot

// The map is the sounds' latents on their two principal axes (dkvae/web/library.py's project_2d), so
// a spot between them is a latent too: least squares gives latent = mean + x * a + y * b from the
// points themselves, and the spot's sound is the class of the nearest point rendered there.
export function latentAt(points, x, y) {
  const dim = points[0].latent.length;
  const normal = [[0, 0, 0], [0, 0, 0], [0, 0, 0]];
  const right = [new Array(dim).fill(0), new Array(dim).fill(0), new Array(dim).fill(0)];
  for (const point of points) {
    const row = [1, point.x, point.y];
    for (let i = 0; i < 3; i += 1) {
      for (let j = 0; j < 3; j += 1) normal[i][j] += row[i] * row[j];
      point.latent.forEach((value, k) => { right[i][k] += row[i] * value; });
    }
  }
  const coefficients = solve3(normal, right);
  if (!coefficients) return null; // the points lie on a line: no plane to read the spot from
  return coefficients[0].map((mean, k) => mean + x * coefficients[1][k] + y * coefficients[2][k]);
}

// Solve the 3 x 3 system `a` X = `b` (b: three rows of any length) by Gaussian elimination; null if singular.
function solve3(a, b) {
  const m = a.map((row, i) => [...row, ...b[i]]);
  for (let col = 0; col < 3; col += 1) {
    const pivot = [col, col + 1, col + 2].filter((r) => r < 3).reduce((best, r) => (Math.abs(m[r][col]) > Math.abs(m[best][col]) ? r : best));
    if (Math.abs(m[pivot][col]) < 1e-9) return null;
    [m[col], m[pivot]] = [m[pivot], m[col]];
    for (let r = 0; r < 3; r += 1) {
      if (r === col) continue;
      const factor = m[r][col] / m[col][col];
      for (let c = col; c < m[r].length; c += 1) m[r][c] -= factor * m[col][c];
    }
  }
  return m.map((row, i) => row.slice(3).map((value) => value / row[i]));
}

export class SoundMap {
  constructor(canvas, legend, instruments, onPick) {
    this.canvas = canvas;
    this.legend = legend;
    this.instruments = instruments;
    this.onPick = onPick;
    this.points = [];
    this.picked = null;
    this.spot = null; // a clicked spot between points: { x, y } in map units
    canvas.addEventListener("click", (event) => this.click(event));
    // Draw at the canvas's real size, so dots stay round on any screen width.
    new ResizeObserver(() => this.draw()).observe(canvas);
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

  get scale() {
    return window.devicePixelRatio || 1;
  }

  // A map point's place on the canvas, in canvas pixels.
  position(point) {
    const margin = 14 * this.scale;
    return [margin + ((point.x + 1) / 2) * (this.canvas.width - 2 * margin), margin + ((1 - point.y) / 2) * (this.canvas.height - 2 * margin)];
  }

  // The map units at canvas pixels (x, y).
  unproject(x, y) {
    const margin = 14 * this.scale;
    return [((x - margin) / (this.canvas.width - 2 * margin)) * 2 - 1, 1 - ((y - margin) / (this.canvas.height - 2 * margin)) * 2];
  }

  draw() {
    const width = Math.round(this.canvas.clientWidth * this.scale);
    const height = Math.round(this.canvas.clientHeight * this.scale);
    if (width > 0 && (this.canvas.width !== width || this.canvas.height !== height)) Object.assign(this.canvas, { width, height });
    const context = this.canvas.getContext("2d");
    const unit = this.scale;
    context.clearRect(0, 0, this.canvas.width, this.canvas.height);
    for (const point of this.points) {
      const [x, y] = this.position(point);
      context.beginPath();
      context.arc(x, y, (point === this.picked ? 6 : 3.5) * unit, 0, 2 * Math.PI);
      const colour = COLOURS[this.colourIndex(point.instrument)];
      if (point.source === "library") {
        context.strokeStyle = colour;
        context.lineWidth = 1.5 * unit;
        context.stroke();
      } else {
        context.fillStyle = colour;
        context.fill();
      }
    }
    if (this.spot) {
      const [x, y] = this.position(this.spot);
      context.strokeStyle = "#ffffff";
      context.lineWidth = 1.5 * unit;
      context.beginPath();
      context.moveTo(x - 7 * unit, y);
      context.lineTo(x + 7 * unit, y);
      context.moveTo(x, y - 7 * unit);
      context.lineTo(x, y + 7 * unit);
      context.stroke();
    }
  }

  click(event) {
    const box = this.canvas.getBoundingClientRect();
    const x = ((event.clientX - box.left) / box.width) * this.canvas.width;
    const y = ((event.clientY - box.top) / box.height) * this.canvas.height;
    let best = null;
    let nearest = null;
    let bestDistance = Infinity;
    for (const point of this.points) {
      const [px, py] = this.position(point);
      const distance = Math.hypot(px - x, py - y);
      if (distance < bestDistance) [nearest, bestDistance] = [point, distance];
    }
    if (nearest && bestDistance < HIT_RADIUS * this.scale) best = nearest;
    if (!best && nearest) {
      // Between the dots: the sound at that spot, of the nearest dot's class.
      const [mx, my] = this.unproject(x, y);
      const latent = latentAt(this.points, mx, my) ?? nearest.latent;
      best = { x: mx, y: my, instrument: nearest.instrument, source: "spot", name: `${nearest.instrument} at the spot`, id: null, latent };
    }
    if (!best) return;
    this.picked = best.source === "spot" ? null : best;
    this.spot = best.source === "spot" ? best : null;
    this.draw();
    this.onPick(best);
  }
}

// A list of sounds with a play and a use button each; `describe(item)` gives its text.
export function showList(list, items, describe, play, use) {
  list.innerHTML = "";
  for (const item of items) {
    const entry = document.createElement("li");
    entry.innerHTML = `<button class="small-button" data-act="play" title="Listen" aria-label="listen">▶</button><button class="small-button" data-act="use" title="Put it on the selected pad">use</button><span></span>`;
    entry.querySelector("span").textContent = describe(item);
    entry.querySelector('[data-act="play"]').addEventListener("click", () => play(item));
    entry.querySelector('[data-act="use"]').addEventListener("click", () => use(item));
    list.append(entry);
  }
}
