// Keep what you make: the session (pattern and kit) as a JSON file, and downloads of kit, loop and MIDI.

import * as api from "./api.js";

export const SESSION_FORMAT = "dkvae-session";

// Everything needed to rebuild the session: the pattern and each pad's sound by recipe.
export function sessionDocument(model, pads, sequencer) {
  return {
    format: SESSION_FORMAT,
    version: 1,
    model_id: model.model_id,
    sequencer: { steps: sequencer.steps, tempo: sequencer.tempo, swing: sequencer.swing, cells: sequencer.cells },
    pads: Object.fromEntries(
      pads.filter((pad) => pad.sound).map((pad) => [pad.info.name, { locked: pad.locked, amount: pad.amount, sound: api.ref(pad.sound) }]),
    ),
  };
}

// The saved session in `text`, checked to be one.
export function parseSession(text) {
  const document = JSON.parse(text);
  if (document?.format !== SESSION_FORMAT || typeof document.pads !== "object") throw new Error("not a dkvae session file");
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
  const name = /filename="([^"]+)"/.exec(disposition)?.[1] ?? fallback;
  saveBlob(await response.blob(), name);
  return name;
}

// The pads' sounds as the export routes take them.
export function padRefs(pads) {
  return Object.fromEntries(pads.filter((pad) => pad.sound).map((pad) => [pad.info.name, api.ref(pad.sound)]));
}
