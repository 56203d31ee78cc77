// Keep what you make: the session (pattern and kit) as a JSON file, and downloads of kit, loop and MIDI.

import * as api from "./api.js";
import { DEFAULT_SETTINGS } from "./engine.js";

export const SESSION_FORMAT = "dkvae-session";
// Version 2: cells hold MIDI velocities (0 rest) and pads their mix settings; version 1's cells held
// 0 rest, 1 hit, 2 accent.
const VERSION = 2;
const VERSION_1_VELOCITY = [0, 100, 127];

// Everything needed to rebuild the session: the pattern and each pad's sound by recipe, and its mix.
export function sessionDocument(model, pads, sequencer) {
  return {
    format: SESSION_FORMAT,
    version: VERSION,
    model_id: model.model_id,
    sequencer: { steps: sequencer.steps, tempo: sequencer.tempo, swing: sequencer.swing, cells: sequencer.cells },
    pads: Object.fromEntries(
      pads.filter((pad) => pad.sound).map((pad) => [
        pad.info.name,
        { locked: pad.locked, amount: pad.amount, settings: pad.settings, sound: api.ref(pad.sound) },
      ]),
    ),
  };
}

// The saved session in `text`, checked to be one, brought to the current version.
export function parseSession(text) {
  const document = JSON.parse(text);
  if (document?.format !== SESSION_FORMAT || typeof document.pads !== "object") throw new Error("not a dkvae session file");
  if ((document.version ?? 1) < 2) {
    for (const [name, row] of Object.entries(document.sequencer.cells)) {
      document.sequencer.cells[name] = row.map((value) => VERSION_1_VELOCITY[value] ?? 0);
    }
  }
  for (const saved of Object.values(document.pads)) saved.settings = { ...DEFAULT_SETTINGS, ...(saved.settings ?? {}) };
  return document;
}

// Save bytes under a name, as a browser download.
export function saveBlob(blob, filename) {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
}

// A server response saved under the name it gives.
export async function saveResponse(response, fallback) {
  const disposition = response.headers.get("Content-Disposition") ?? "";
  // RFC 6266: the UTF-8 `filename*` when there is one, else the plain `filename`.
  const encoded = /filename\*=UTF-8''([^;\s]+)/i.exec(disposition)?.[1];
  const name = (encoded && decodeURIComponent(encoded)) ?? /filename="([^"]+)"/.exec(disposition)?.[1] ?? fallback;
  saveBlob(await response.blob(), name);
  return name;
}

// The pads' sounds as the export routes take them.
export function padRefs(pads) {
  return Object.fromEntries(pads.filter((pad) => pad.sound).map((pad) => [pad.info.name, api.ref(pad.sound)]));
}

// The pads' mix settings as the export routes take them (the ones left as made are left out).
export function padSettings(pads) {
  const changed = (pad) => Object.entries(DEFAULT_SETTINGS).some(([key, value]) => pad.settings[key] !== value);
  return Object.fromEntries(pads.filter((pad) => pad.sound && changed(pad)).map((pad) => [pad.info.name, { ...pad.settings }]));
}
