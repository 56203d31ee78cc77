// The server's JSON API: one function per route, errors thrown with the server's message.

async function request(method, path, body, raw = false) {
  const init = { method, headers: {} };
  if (body instanceof Blob || body instanceof ArrayBuffer) {
    init.body = body;
    init.headers["Content-Type"] = "application/octet-stream";
  } else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  const response = await fetch(path, init);
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      const detail = (await response.json()).detail;
      message = typeof detail === "string" ? detail : detail.map((d) => `${d.loc.slice(1).join(".")}: ${d.msg}`).join("; ");
    } catch { /* not JSON: keep the status line */ }
    const error = new Error(message);
    error.status = response.status;
    throw error;
  }
  return raw ? response : response.json();
}

// A sound as the API takes it: its latent and class (or class blend).
export const ref = (sound) => ({ latent: sound.latent, instrument: sound.instrument, class_weights: sound.class_weights ?? null });

export const model = () => request("GET", "/api/model");
export const generate = (instrument, seed, temperature = 1) => request("POST", "/api/generate", { instrument, seed, temperature });
export const render = (sound) => request("POST", "/api/render", ref(sound));
export const vary = (sound, amount, seed, count = 1) => request("POST", "/api/vary", { sound: ref(sound), amount, seed, count });
export const morph = (a, b, position) => request("POST", "/api/morph", { a: ref(a), b: ref(b), position });
export const kit = (seed, spread, temperature = 1) => request("POST", "/api/kit", { seed, spread, temperature });
export const upload = (file, amount, count, seed) =>
  request("POST", `/api/upload?amount=${amount}&count=${count}&seed=${seed}`, file);
export const directions = (instrument) => request("GET", `/api/directions/${encodeURIComponent(instrument)}`);
export const soundMap = () => request("GET", "/api/map");
export const mapSpot = (plane, x, y) => request("GET", `/api/map/spot?plane=${plane}&x=${x}&y=${y}`);
export const librarySound = (index) => request("GET", `/api/library/${index}`);
export const sidecar = (id) => request("GET", `/api/sounds/${id}`);
export const similar = (sound, count = 8) => request("POST", "/api/similar", { sound: ref(sound), count });
export const history = (limit = 30) => request("GET", `/api/history?limit=${limit}`);
export const exportKit = (body) => request("POST", "/api/export/kit", body, true);
export const exportLoop = (body) => request("POST", "/api/export/loop", body, true);
export const exportMidi = (body) => request("POST", "/api/export/midi", body, true);

// A random seed the API accepts.
export const randomSeed = () => Math.floor(Math.random() * 2147483647);
