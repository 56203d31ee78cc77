// The selected pad's controls: its mix (volume, tune, decay, pan), sliders on its class's named latent
// directions, and a morph to another pad.
//
// The direction sliders and the morph work from the pad's origin: the sound it had when selected (or
// last replaced by new, vary, undo or a drop). Moving one renders origin + offsets, so moves never pile
// up. The mix changes nothing on the server: the engine applies it when the pad plays.

import * as api from "./api.js";
import { DEFAULT_SETTINGS } from "./engine.js";

const SLIDER_RANGE = 3; // standard deviations of the class either way
const PROBE_SPREADS = 4; // directions are measured from -2 to +2 standard deviations (dkvae/web/directions.py)
const MUTE_DB = -36; // the volume slider's bottom: silence

const directionsByClass = new Map();
let shown = 0; // the latest showSliders call: an older one still waiting for its directions draws nothing

async function directionsOf(instrument) {
  if (!directionsByClass.has(instrument)) directionsByClass.set(instrument, (await api.directions(instrument)).directions);
  return directionsByClass.get(instrument);
}

const minus = (text) => text.replace("-", "−"); // a typographic minus, as a mixer's display shows it
const signed = (value, digits) => (value > 0 ? "+" : "") + minus(value.toFixed(digits));

// How each measure naming a direction reads (the names come from dkvae/web/directions.py): its value,
// and whether the slider's change is heard in semitones (a pitch) or as a percentage.
const MEASURES = {
  brightness: { value: (v) => hertz(v) },
  pitch: { value: (v) => hertz(v), semitones: true },
  decay: { value: (v) => `${v.toFixed(2)} s` },
  noise: { value: (v) => `${(100 * v).toFixed(1)}% noise-like` },
  click: { value: (v) => `${(100 * v).toFixed(0)}% of the attack above 2 kHz` },
  "pitch drop": { value: (v) => `${(12 * Math.log2(Math.max(v, 1e-3))).toFixed(1)} st fall`, semitones: true },
  body: { value: (v) => `${(100 * v).toFixed(0)}% sustain after the hit` },
  "low end": { value: (v) => `${(100 * v).toFixed(0)}% of the energy below 150 Hz` },
};
const hertz = (v) => (v >= 1000 ? `${(v / 1000).toFixed(1)} kHz` : `${Math.round(v)} Hz`);

// What moving `value` standard deviations along a direction does to its measure, for the slider's readout.
function change(direction, value) {
  const [low, high] = direction.measured;
  const ratio = Math.max(high, 1e-6) / Math.max(low, 1e-6);
  const perSpread = Math.log(ratio) / PROBE_SPREADS;
  if (MEASURES[direction.name]?.semitones) return `${signed((12 * value * perSpread) / Math.LN2, 1)} st`;
  return `${signed(100 * (Math.exp(value * perSpread) - 1), 0)}%`;
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

// One labelled slider with its value shown beside it.
function slider(name, attributes, title) {
  const label = document.createElement("label");
  label.className = "slider";
  label.title = title;
  label.innerHTML = `<span class="slider-name"></span><input type="range"><output class="slider-value"></output>`;
  label.querySelector(".slider-name").textContent = name;
  const input = label.querySelector("input");
  for (const [key, value] of Object.entries(attributes)) input.setAttribute(key, value);
  return { label, input, output: label.querySelector("output") };
}

// Build the direction sliders for the selected pad; `apply(sound)` receives each rendered move. A sound
// of no class (an unconditional model hears none in a user's sound) moves along its pad's class's directions.
export async function showSliders(container, origin, apply, padInstrument) {
  const call = ++shown;
  container.innerHTML = "";
  if (!origin) return;
  const instrument = origin.instrument || padInstrument;
  if (!directionsByClass.has(instrument)) {
    container.innerHTML = `<p class="small hint">measuring what each direction of ${instrument} sounds changes…</p>`;
  }
  const directions = await directionsOf(instrument);
  if (call !== shown) return;
  container.innerHTML = "";
  const values = directions.map(() => 0);
  directions.forEach((direction, index) => {
    const reads = MEASURES[direction.name]?.value ?? ((v) => v.toFixed(2));
    const [low, high] = direction.measured.map(reads);
    const title = `${direction.name}: a typical ${instrument} goes from ${low} at the left to ${high} at the right `
      + `(±2 of the ±${SLIDER_RANGE} spreads of its class); the number shows the change. Renders a new sound.`;
    const { label, input, output } = slider(direction.name, {
      min: -SLIDER_RANGE, max: SLIDER_RANGE, step: 0.1, value: 0, "data-direction": index,
    }, title);
    const show = () => { output.textContent = change(direction, Number(input.value)); };
    show();
    input.addEventListener("input", show);
    input.addEventListener("change", async () => {
      values[index] = Number(input.value);
      const latent = offsetLatent(origin, directions, values);
      apply(await api.render({ ...origin, latent }));
    });
    container.append(label);
  });
}

// The mix controls: each names its setting, shows its value, and reads and writes `pad.settings`.
// The slider works in the unit a producer thinks in (dB, semitones, percent); the setting keeps what
// the engine and the exports take (a linear gain, semitones, a share of the length, -1..1).
const MIX = [
  {
    setting: "volume", name: "volume", min: MUTE_DB, max: 0, step: 0.5,
    title: "The pad's level (dB); double-click: 0 dB",
    toSlider: (v) => (v > 0 ? Math.max(MUTE_DB, 20 * Math.log10(v)) : MUTE_DB),
    fromSlider: (db) => (db <= MUTE_DB ? 0 : 10 ** (db / 20)),
    show: (db) => (db <= MUTE_DB ? "−∞ dB" : `${minus(db.toFixed(1))} dB`),
  },
  {
    setting: "tune", name: "tune", min: -24, max: 24, step: 0.1,
    title: "Plays the sound faster or slower, in semitones (shorter when higher, as a sampler does); double-click: 0",
    toSlider: (v) => v, fromSlider: (v) => v,
    show: (v) => `${signed(v, 1)} st`,
  },
  {
    setting: "decay", name: "amp decay", min: 5, max: 100, step: 1,
    title: "Fades the sound out early: how much of its length is kept (100%: all of it); double-click: 100%",
    toSlider: (v) => 100 * v, fromSlider: (v) => v / 100,
    show: (v, pad) => `${Math.round(v)}%` + (pad.buffer && v < 100 ? ` · ${((v / 100) * pad.buffer.duration / 2 ** (pad.settings.tune / 12)).toFixed(2)} s` : ""),
  },
  {
    setting: "pan", name: "pan", min: -1, max: 1, step: 0.05,
    title: "Left or right in the stereo mix; double-click: centre",
    toSlider: (v) => v, fromSlider: (v) => v,
    show: (v) => (Math.abs(v) < 0.005 ? "C" : `${v < 0 ? "L" : "R"}${Math.round(100 * Math.abs(v))}`),
  },
];

export function showMix(container, pad, onChange = () => {}) {
  container.innerHTML = "";
  const outputs = [];
  for (const control of MIX) {
    const { label, input, output } = slider(control.name, {
      min: control.min, max: control.max, step: control.step, "data-setting": control.setting,
    }, control.title);
    input.value = control.toSlider(pad.settings[control.setting]);
    const show = () => { for (const [c, i, o] of outputs) o.textContent = c.show(Number(i.value), pad); };
    outputs.push([control, input, output]);
    const set = () => {
      pad.settings[control.setting] = control.fromSlider(Number(input.value));
      show();
      onChange(pad);
    };
    input.addEventListener("input", set);
    input.addEventListener("dblclick", () => {
      input.value = control.toSlider(DEFAULT_SETTINGS[control.setting]);
      set();
    });
    container.append(label);
    show();
  }
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
