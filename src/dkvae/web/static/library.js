// The sound map (library and session sounds on two axes, coloured by class), similar sounds and the history list.

import * as api from "./api.js";

const COLOURS = ["#ff5f5f", "#ffb347", "#f5e663", "#7ee081", "#5fd7ff", "#a98bff", "#ff7fd1", "#cfcfcf"];
const HIT_RADIUS = 9; // CSS pixels around a point that pick it; a click farther from every point renders the spot

// A map point or spot with what rendering it needs: its latent (and a session sound's class blend). The map
// carries no latents (a codec's would make it megabytes), so they are asked for when the user acts on a point:
// a library sound's by its index, a session sound's from its sidecar, a spot's from the plane of the map it
// was clicked on (dkvae/web/maps.py: the least-squares plane through the points); where the points lie on a
// line there is no plane, and a spot is the nearest point's latent.
export async function mapSound(point) {
  if (point.source === "library") return { ...point, latent: (await api.librarySound(point.index)).latent };
  if (point.source === "session") {
    const sidecar = await api.sidecar(point.id);
    return { ...point, latent: sidecar.latent, class_weights: sidecar.class_weights };
  }
  const latent = point.plane ? (await api.mapSpot(point.plane, point.x, point.y)).latent : (await mapSound(point.nearest)).latent;
  return { ...point, latent };
}

export class SoundMap {
  constructor(canvas, legend, instruments, onPick) {
    this.canvas = canvas;
    this.legend = legend;
    this.instruments = instruments;
    this.onPick = onPick;
    this.points = [];
    this.plane = null; // the id of the plane the spots between the points read, or null
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
    const map = await api.soundMap();
    [this.points, this.plane] = [map.points, map.plane];
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
      best = { x: mx, y: my, instrument: nearest.instrument, source: "spot", name: `${nearest.instrument} at the spot`, id: null, plane: this.plane, nearest };
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
