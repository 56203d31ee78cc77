// Audio: one AudioContext at the model's rate, sounds decoded once by id, voices with velocity and hat chokes.

const CHOKE_FADE = 0.02; // seconds a choked voice takes to fall silent
const VELOCITY_CURVE = 1.5; // loudness = (velocity / 127) ^ curve, as the kit demo mixes

export class Engine {
  constructor(sampleRate) {
    this.ctx = new AudioContext({ sampleRate, latencyHint: "interactive" });
    this.master = this.ctx.createGain();
    this.master.gain.value = 0.8;
    this.master.connect(this.ctx.destination);
    this.buffers = new Map(); // sound id -> AudioBuffer
    this.voices = new Map(); // pad name -> [{ source, gain }]
    this.chokes = new Map(); // pad name -> pads it silences
  }

  // Pads choked by others (from the layout's choked_by lists).
  setChokes(pads) {
    for (const pad of pads) {
      for (const other of pad.choked_by) {
        this.chokes.set(other, [...(this.chokes.get(other) ?? []), pad.name]);
      }
    }
  }

  resume() {
    return this.ctx.state === "running" ? Promise.resolve() : this.ctx.resume();
  }

  // The decoded sound (fetched once; the server sends WAV bytes).
  async load(sound) {
    if (!this.buffers.has(sound.id)) {
      const response = await fetch(sound.url);
      if (!response.ok) throw new Error(`cannot fetch sound ${sound.id}: ${response.status}`);
      this.buffers.set(sound.id, await this.ctx.decodeAudioData(await response.arrayBuffer()));
    }
    return this.buffers.get(sound.id);
  }

  // Play `buffer` for `pad` at context time `when` (0: now) with MIDI `velocity`; returns the start time.
  play(pad, buffer, when = 0, velocity = 100) {
    const start = Math.max(when, this.ctx.currentTime);
    for (const choked of this.chokes.get(pad) ?? []) this.silence(choked, start);
    const source = this.ctx.createBufferSource();
    const gain = this.ctx.createGain();
    source.buffer = buffer;
    gain.gain.value = Math.pow(velocity / 127, VELOCITY_CURVE);
    source.connect(gain).connect(this.master);
    source.start(start);
    const voice = { source, gain };
    const list = this.voices.get(pad) ?? [];
    list.push(voice);
    this.voices.set(pad, list);
    source.onended = () => list.splice(list.indexOf(voice) >>> 0, 1);
    return start;
  }

  // Fade out a pad's sounding voices from `when` (a closed hat cutting an open one).
  silence(pad, when) {
    for (const { source, gain } of this.voices.get(pad) ?? []) {
      gain.gain.setValueAtTime(gain.gain.value, when);
      gain.gain.linearRampToValueAtTime(0, when + CHOKE_FADE);
      try { source.stop(when + CHOKE_FADE); } catch { /* already stopped */ }
    }
  }

  // Audition a sound that is on no pad.
  preview(buffer) {
    return this.play("__preview", buffer, 0, 110);
  }
}
