// Audio: one AudioContext at the model's rate, sounds decoded once by id, voices with velocity, the pad's
// mix settings (volume, tune, decay, pan) and hat chokes, into a master volume, a limiter and a level meter.
//
// A voice is source -> amp (velocity x volume; chokes fade it) -> env (decay) -> panner -> master bus.
// The loop and kit exports apply the same settings the same way (dkvae/web/exports.py), so what is
// exported is what is heard.

const CHOKE_FADE = 0.02; // seconds a choked voice takes to fall silent
const VELOCITY_CURVE = 1.5; // loudness = (velocity / 127) ^ curve, as the kit demo mixes
const DECAY_HOLD = 0.5; // a shortened sound holds for this share of its new length, then fades out (as exports.py)
const METER_FLOOR_DB = -60; // the meter's bottom

// A pad's mix settings as it starts: the sound as made, in the centre.
export const DEFAULT_SETTINGS = Object.freeze({ volume: 1, tune: 0, decay: 1, pan: 0 });

export class Engine {
  constructor(sampleRate) {
    this.ctx = new AudioContext({ sampleRate, latencyHint: "interactive" });
    // Master volume, then a limiter so that many loud hits at once do not clip the output.
    this.volume = this.ctx.createGain();
    this.volume.gain.value = 0.8;
    this.limiter = this.ctx.createDynamicsCompressor();
    this.limiter.threshold.value = -3;
    this.limiter.knee.value = 0;
    this.limiter.ratio.value = 20;
    this.limiter.attack.value = 0.002;
    this.limiter.release.value = 0.1;
    this.analyser = this.ctx.createAnalyser();
    this.analyser.fftSize = 1024;
    this.volume.connect(this.limiter).connect(this.analyser).connect(this.ctx.destination);
    this.master = this.volume; // where voices go
    this.samples = new Float32Array(this.analyser.fftSize);
    this.buffers = new Map(); // sound id -> AudioBuffer
    this.voices = new Map(); // pad name -> [{ source, amp }]
    this.chokes = new Map(); // pad name -> pads it silences
    this.lastVoice = null; // read by the browser tests
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

  // Decode a sound file's bytes the server never sent (a user's own upload), kept under `id`.
  async decode(id, bytes) {
    this.buffers.set(id, await this.ctx.decodeAudioData(bytes));
    return this.buffers.get(id);
  }

  // Play `buffer` for `pad` at context time `when` (0: now) with MIDI `velocity` and the pad's mix
  // `settings`; returns the start time.
  play(pad, buffer, when = 0, velocity = 100, settings = DEFAULT_SETTINGS) {
    const { volume, tune, decay, pan } = { ...DEFAULT_SETTINGS, ...settings };
    const start = Math.max(when, this.ctx.currentTime);
    for (const choked of this.chokes.get(pad) ?? []) this.silence(choked, start);
    const source = this.ctx.createBufferSource();
    const amp = this.ctx.createGain();
    const env = this.ctx.createGain();
    const panner = this.ctx.createStereoPanner();
    source.buffer = buffer;
    source.playbackRate.value = 2 ** (tune / 12); // tune by playback rate, as a sampler does
    amp.gain.value = Math.pow(velocity / 127, VELOCITY_CURVE) * volume;
    panner.pan.value = pan;
    let end = start + buffer.duration / source.playbackRate.value;
    if (decay < 1) {
      end = start + decay * (end - start);
      env.gain.setValueAtTime(1, start + DECAY_HOLD * (end - start));
      env.gain.linearRampToValueAtTime(0, end);
    }
    source.connect(amp).connect(env).connect(panner).connect(this.master);
    source.start(start);
    if (decay < 1) source.stop(end);
    const voice = { source, amp, env, panner, start, end };
    const list = this.voices.get(pad) ?? [];
    list.push(voice);
    this.voices.set(pad, list);
    source.onended = () => list.splice(list.indexOf(voice) >>> 0, 1);
    this.lastVoice = voice;
    return start;
  }

  // Fade out a pad's sounding voices from `when` (a closed hat cutting an open one).
  silence(pad, when) {
    for (const { source, amp } of this.voices.get(pad) ?? []) {
      amp.gain.setValueAtTime(amp.gain.value, when);
      amp.gain.linearRampToValueAtTime(0, when + CHOKE_FADE);
      try { source.stop(when + CHOKE_FADE); } catch { /* already stopped */ }
    }
  }

  // Audition a sound that is on no pad.
  preview(buffer) {
    return this.play("__preview", buffer, 0, 110);
  }

  // The output's peak over the analyser's last window, in dBFS (METER_FLOOR_DB for silence).
  peakDb() {
    this.analyser.getFloatTimeDomainData(this.samples);
    let peak = 0;
    for (const sample of this.samples) peak = Math.max(peak, Math.abs(sample));
    return peak > 0 ? Math.max(METER_FLOOR_DB, 20 * Math.log10(peak)) : METER_FLOOR_DB;
  }
}

export const meterFloorDb = METER_FLOOR_DB;
