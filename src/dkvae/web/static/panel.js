// The selected pad's sound controls: sliders on its class's named latent directions, and a morph to another pad.
//
// Both work from the pad's origin: the sound it had when selected (or last replaced by new, vary,
// undo or a drop). Moving a slider or the morph renders origin + offsets, so moves never pile up.

import * as api from "./api.js";

const SLIDER_RANGE = 3; // standard deviations of the class either way

const directionsByClass = new Map();
let shown = 0; // the latest showSliders call: an older one still waiting for its directions draws nothing

async function directionsOf(instrument) {
  if (!directionsByClass.has(instrument)) directionsByClass.set(instrument, (await api.directions(instrument)).directions);
  return directionsByClass.get(instrument);
}

// The latent `origin + sum(value * scale * vector)` over the sliders.
export function offsetLatent(origin, directions, values) {
  const latent = origin.latent.slice();
  directions.forEach((direction, index) => {
    const amount = values[index] * direction.scale;
    direction.vector.forEach((component, i) => { latent[i] += amount * component; });
  });
  return latent;
}

// Build the sliders for the selected pad; `apply(sound)` receives each rendered move.
export async function showSliders(container, origin, apply) {
  const call = ++shown;
  container.innerHTML = "";
  if (!origin) return;
  const directions = await directionsOf(origin.instrument);
  if (call !== shown) return;
  const values = directions.map(() => 0);
  directions.forEach((direction, index) => {
    const label = document.createElement("label");
    label.className = "slider";
    const [low, high] = direction.measured;
    label.title = `${direction.name}: ${format(direction.name, low)} → ${format(direction.name, high)} across ±2 spreads`;
    label.innerHTML = `<span class="slider-name">${direction.name}</span>
      <input type="range" min="${-SLIDER_RANGE}" max="${SLIDER_RANGE}" step="0.1" value="0" data-direction="${index}">
      <span class="slider-value">0.0</span>`;
    const input = label.querySelector("input");
    input.addEventListener("input", () => { label.querySelector(".slider-value").textContent = Number(input.value).toFixed(1); });
    input.addEventListener("change", async () => {
      values[index] = Number(input.value);
      const latent = offsetLatent(origin, directions, values);
      apply(await api.render({ ...origin, latent }));
    });
    container.append(label);
  });
}

function format(name, value) {
  if (name === "brightness" || name === "pitch") return `${Math.round(value)} Hz`;
  if (name === "decay") return `${value.toFixed(2)} s`;
  return value.toFixed(2);
}

// The morph target list: every pad but the selected one.
export function showMorphTargets(select, pads, selected) {
  const previous = select.value;
  select.innerHTML = pads
    .filter((pad) => pad !== selected)
    .map((pad) => `<option value="${pad.info.name}">${pad.info.label}</option>`)
    .join("");
  if ([...select.options].some((option) => option.value === previous)) select.value = previous;
}
