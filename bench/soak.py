"""Web server soak: `--clients` local clients send a fixed, seeded mix of requests for `--minutes`; no error, flat memory.

Starts `dkvae.web.app.serve` (the bundled model unless `--model`) in a subprocess on a free loopback
port (bench/serve.py's helpers), then:

1. fill: enough new sounds (POST /api/generate, new seeds) to fill the server's bounded stores, the
   audio cache (`CACHE_BYTES`) and the recipe history (`HISTORY_SIZE`), so their growth is not mistaken
   for a leak; then the hot seeds, the kits and the upload files the mix uses.
2. warm-up: the mix for `--warmup-seconds` (responses checked, latencies not counted).
3. soak: the mix from every client until `--minutes` have passed or `--max-requests` were sent,
   whichever comes first; the server's RSS (VmRSS of its process tree: the web server renders on a
   thread pool, so the tree is one process, and the count is reported) is read every `--sample-seconds`.

Each client has its own keep-alive connection and random generator (seeded by `--seed` and its
index) and draws each request from this mix (weights in `MIX`): generate a hot seed (cached; its id
must be the one first given) or a new seed; play a sound (GET its WAV); render a sound again or moved
along one latent axis (a slider); vary a sound; upload a real drum WAV (the model's own sounds as
16-bit mono and, rewritten with soundfile, 24-bit stereo) for variations; morph between two sounds;
make a kit; export the pads (a kit's, one pad swapped for a recent sound) as a zip (wav, sfz,
hydrogen, decentsampler or all formats, with or without the demo), as a loop WAV or as MIDI of a
random pattern.

Every response is checked: status 200, its content type, and its body (sounds: id, sample rate,
latent size, samples > 0; WAVs read by soundfile at the model's rate with the advertised length; a
kit zip that passes `testzip` and holds a WAV per pad, in nested .h2drumkit/.dslibrary archives too;
a loop one pass of the pattern long; MIDI parsed by mido with one note-on per hit). Any non-200,
wrong body or failed connection is an error.

Latency is from sending a request to having read its whole response (checking is not timed); the
clients are threads of this one process, so they share the CPU with the server.

Memory: the samples taken under load are cut in thirds; growth is the median of the last third minus
the median of the middle third (the first third absorbs what the warm-up left unsettled). The memory
is flat when that growth is at most `--growth-limit-mb`. One more sample, a second after the clients
stop, gives the idle RSS and open files (the clients' sockets closed). Prints progress to stderr and
one JSON line to stdout (``--out FILE`` also writes the figure as docs/results/performance.json's entry
``soak``, bench/record.py); exits 1 on any error, 2 when memory grew (and there was no error), else 0.

    python bench/soak.py --clients 20 --minutes 10 --max-requests 200000
    python bench/soak.py --clients 20 --minutes 1 --sample-seconds 2     # a quick look
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import re
import sys
import tarfile
import threading
import time
import zipfile
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mido
import numpy as np
import record
import soundfile as sf
from serve import HOST, body, drive, free_port, rss_mb, start_server

from dkvae.web.schemas import MORPH_STEPS
from dkvae.web.sounds import CACHE_BYTES, HISTORY_SIZE

#: Request kinds: (weight, route). Weights are relative.
MIX: dict[str, tuple[int, str]] = {
    "generate_hot": (18, "POST /api/generate"),
    "generate_new": (10, "POST /api/generate"),
    "play": (14, "GET /api/sounds/{id}.wav"),
    "render": (10, "POST /api/render"),
    "vary": (8, "POST /api/vary"),
    "upload": (6, "POST /api/upload"),
    "morph": (10, "POST /api/morph"),
    "kit": (2, "POST /api/kit"),
    "export_kit": (6, "POST /api/export/kit"),
    "export_loop": (8, "POST /api/export/loop"),
    "export_midi": (8, "POST /api/export/midi"),
}
KIT_FORMATS = {"wav": 4, "sfz": 2, "hydrogen": 2, "decentsampler": 1, "all": 1}
#: The fill renders the history's size and this many more sounds; the audio cache fills well before (the bundled
#: model's trimmed sounds average about 110 kB, so 64 MiB is about 600 of them).
FILL_MARGIN = 500
VARIATIONS = 4
#: Idle keep-alive connections are opened again after this long (the server closes them after 5 s).
IDLE_SECONDS = 2.0
ERROR_SAMPLES = 20
SOUND_ID = re.compile(r"[0-9a-f]{16}")
#: What reading a body that does not parse raises: JSON, zip, tar, WAV (libsndfile) or MIDI (mido).
UNREADABLE = (
    ValueError, KeyError, TypeError, IndexError, AttributeError, EOFError, OSError, RuntimeError,
    zipfile.BadZipFile, tarfile.TarError,
)  # fmt: skip


class Invalid(Exception):
    """A response that is not what its route promises."""


def expect(condition: object, message: str) -> None:
    """Raise `Invalid(message)` unless `condition`."""
    if not condition:
        raise Invalid(message)


@dataclass
class Setup:
    """What every client shares: the model's facts, hot sounds, kits and upload files."""

    rate: int
    latent_dim: int
    instruments: list[str]
    notes: dict[str, int]
    hot: list[dict]
    kits: list[dict[str, dict]]
    uploads: list[bytes]


@dataclass
class Request:
    """One request and the check of its response body (returns the sounds it made, for later requests)."""

    kind: str
    method: str
    path: str
    content: bytes | None
    content_type: str
    expected_type: str
    check: Callable[[bytes], list[dict]]


@dataclass
class Tally:
    """Latencies in ms by kind, and errors."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: {kind: [] for kind in MIX})
    errors: int = 0
    samples: list[str] = field(default_factory=list)

    def error(self, kind: str, message: str) -> None:
        self.errors += 1
        if len(self.samples) < ERROR_SAMPLES:
            self.samples.append(f"{kind}: {message}"[:300])

    def merge(self, other: Tally) -> None:
        for kind, values in other.latencies.items():
            self.latencies[kind] += values
        self.errors += other.errors
        self.samples = (self.samples + other.samples)[:ERROR_SAMPLES]

    @property
    def count(self) -> int:
        return sum(len(values) for values in self.latencies.values())


def ref(sound: dict) -> dict:
    """The API's reference to a sound: latent and class."""
    return {"latent": sound["latent"], "instrument": sound["instrument"], "class_weights": sound["class_weights"]}


def check_sound(sound: Any, setup: Setup, instrument: str | None = None) -> dict:
    """A SoundOut as the API promises it."""
    expect(isinstance(sound, dict) and SOUND_ID.fullmatch(str(sound.get("id"))), f"not a sound: {str(sound)[:80]}")
    expect(sound["url"] == f"/api/sounds/{sound['id']}.wav", f"url {sound['url']}")
    expect(sound["samples"] > 0, f"sound {sound['id']} has {sound['samples']} samples")
    expect(sound["sample_rate"] == setup.rate, f"sample rate {sound['sample_rate']}")
    expect(len(sound["latent"]) == setup.latent_dim, f"latent of {len(sound['latent'])} values")
    expect(sound["instrument"] in setup.instruments, f"instrument {sound['instrument']}")
    expect(instrument is None or sound["instrument"] == instrument, f"{sound['instrument']}, not {instrument}")
    return sound


def check_wav(data: bytes, rate: int, frames: int | None = None) -> np.ndarray:
    """The audio of a WAV file at `rate` (and `frames` long, when given)."""
    audio, found = sf.read(io.BytesIO(data), dtype="float32")
    expect(found == rate, f"WAV at {found} Hz, not {rate}")
    expect(len(audio) > 0 and np.isfinite(audio).all(), "empty or non-finite WAV")
    expect(frames is None or len(audio) == frames, f"WAV of {len(audio)} frames, not {frames}")
    return audio


def kit_wavs(data: bytes) -> tuple[list[bytes], list[bytes]]:
    """The WAV files and MIDI files in a kit zip, nested archives (.h2drumkit tar, .dslibrary zip) opened too."""
    wavs: list[bytes] = []
    midis: list[bytes] = []
    archive = zipfile.ZipFile(io.BytesIO(data))
    expect(archive.testzip() is None, "a corrupt zip member")
    for name in archive.namelist():
        if name.endswith(".wav"):
            wavs.append(archive.read(name))
        elif name.endswith(".mid"):
            midis.append(archive.read(name))
        elif name.endswith(".dslibrary"):
            inner = zipfile.ZipFile(io.BytesIO(archive.read(name)))
            wavs += [inner.read(n) for n in inner.namelist() if n.endswith(".wav")]
        elif name.endswith(".h2drumkit"):
            with tarfile.open(fileobj=io.BytesIO(archive.read(name))) as tar:
                wavs += [tar.extractfile(m).read() for m in tar.getmembers() if m.isfile() and m.name.endswith(".wav")]
    return wavs, midis


class Client:
    """One simulated user: a keep-alive connection, a seeded generator and the sounds it has seen lately."""

    def __init__(self, index: int, port: int, setup: Setup, seed: int, phase: int) -> None:
        self.port = port
        self.setup = setup
        self.rng = np.random.default_rng([seed, phase, index])
        self.fresh = iter(range(10**8 * (2 + phase) + index * 10**6, 10**8 * (2 + phase) + (index + 1) * 10**6))
        self.recent: deque[dict] = deque((setup.hot[i] for i in self.rng.permutation(len(setup.hot))[:16]), 32)
        self.connection: http.client.HTTPConnection | None = None
        self.last_used = 0.0
        self.tally = Tally()
        self.kinds = list(MIX)
        weights = np.array([MIX[kind][0] for kind in self.kinds], float)
        self.weights = weights / weights.sum()

    # --- the connection ------------------------------------------------------------------------------

    def send(self, request: Request) -> tuple[int, str, bytes, float]:
        """Status, content type, body and latency (ms) of `request`."""
        if self.connection is None or time.monotonic() - self.last_used > IDLE_SECONDS:
            self.close()
            self.connection = http.client.HTTPConnection(HOST, self.port, timeout=120)
        headers = {"Content-Type": request.content_type} if request.content is not None else {}
        start = time.perf_counter()
        self.connection.request(request.method, request.path, request.content, headers)
        response = self.connection.getresponse()
        data = response.read()
        elapsed = (time.perf_counter() - start) * 1000
        self.last_used = time.monotonic()
        return response.status, response.getheader("content-type", ""), data, elapsed

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def step(self) -> None:
        """Draw, send and check one request; record its latency or the error."""
        kind = self.kinds[self.rng.choice(len(self.kinds), p=self.weights)]
        request = getattr(self, kind)()
        try:
            status, content_type, data, elapsed = self.send(request)
        except (OSError, http.client.HTTPException) as error:
            self.close()
            self.tally.error(kind, f"{type(error).__name__}: {error}")
            return
        try:
            expect(status == 200, f"status {status}: {data[:200]!r}")
            expect(content_type.split(";")[0] == request.expected_type, f"content type {content_type}")
            self.recent.extend(request.check(data))
        except Invalid as error:
            self.tally.error(kind, str(error))
            return
        except UNREADABLE as error:
            self.tally.error(kind, f"{type(error).__name__}: {error}")
            return
        self.tally.latencies[kind].append(elapsed)

    # --- the requests --------------------------------------------------------------------------------

    def json_request(self, kind: str, path: str, payload: dict, check: Callable[[Any], list[dict]]) -> Request:
        """A JSON POST answered with JSON."""
        return Request(
            kind, "POST", path, json.dumps(payload).encode(), "application/json", "application/json",
            lambda data: check(json.loads(data)),
        )  # fmt: skip

    def pick(self) -> dict:
        return self.recent[self.rng.integers(len(self.recent))]

    def generate_hot(self) -> Request:
        hot = self.setup.hot[self.rng.integers(len(self.setup.hot))]

        def check(sound: Any) -> list[dict]:
            expect(check_sound(sound, self.setup)["id"] == hot["id"], f"seed {hot['seed']} gave another sound")
            return [sound]

        return self.json_request(
            "generate_hot", "/api/generate", {"instrument": hot["instrument"], "seed": hot["seed"]}, check
        )

    def generate_new(self) -> Request:
        instrument = self.setup.instruments[self.rng.integers(len(self.setup.instruments))]
        payload = {"instrument": instrument, "seed": next(self.fresh)}
        return self.json_request(
            "generate_new", "/api/generate", payload, lambda s: [check_sound(s, self.setup, instrument)]
        )

    def play(self) -> Request:
        sound = self.pick()

        def check(data: bytes) -> list[dict]:
            check_wav(data, self.setup.rate, sound["samples"])
            return []

        return Request("play", "GET", sound["url"], None, "", "audio/wav", check)

    def render(self) -> Request:
        sound = self.pick()
        payload = ref(sound)
        moved = bool(self.rng.random() < 0.5)
        if moved:  # a slider's move along one latent axis
            latent = np.array(payload["latent"])
            latent[self.rng.integers(len(latent))] += self.rng.normal(0, 0.3)
            payload["latent"] = np.clip(latent, -5, 5).tolist()

        def check(out: Any) -> list[dict]:
            check_sound(out, self.setup, sound["instrument"])
            expect(moved or out["id"] == sound["id"], "the same recipe gave another sound")
            return [out]

        return self.json_request("render", "/api/render", payload, check)

    def vary(self) -> Request:
        payload = {
            "sound": ref(self.pick()),
            "amount": float(self.rng.choice([0.1, 0.3, 0.6, 1.0])),
            "seed": int(self.rng.integers(1000)),
            "count": VARIATIONS,
        }

        def check(sounds: Any) -> list[dict]:
            expect(isinstance(sounds, list) and len(sounds) == VARIATIONS, f"{str(sounds)[:80]} for {VARIATIONS}")
            return [check_sound(sound, self.setup) for sound in sounds]

        return self.json_request("vary", "/api/vary", payload, check)

    def upload(self) -> Request:
        data = self.setup.uploads[self.rng.integers(len(self.setup.uploads))]
        amount, seed = self.rng.choice([0.2, 0.4]), self.rng.integers(50)
        path = f"/api/upload?amount={amount}&count={VARIATIONS}&seed={seed}"

        def check(content: bytes) -> list[dict]:
            out = json.loads(content)
            expect(out["instrument"] in self.setup.instruments, f"instrument {out['instrument']}")
            expect(check_sound(out["source"], self.setup)["operation"] == "reconstruct", "not a reconstruction")
            expect(len(out["variations"]) == VARIATIONS, f"{len(out['variations'])} variations")
            return [check_sound(sound, self.setup) for sound in out["variations"]]

        return Request("upload", "POST", path, data, "application/octet-stream", "application/json", check)

    def morph(self) -> Request:
        payload = {"a": ref(self.pick()), "b": ref(self.pick()), "position": int(self.rng.integers(MORPH_STEPS))}
        return self.json_request("morph", "/api/morph", payload, lambda s: [check_sound(s, self.setup)])

    def kit(self) -> Request:
        def check(out: Any) -> list[dict]:
            expect(set(out["pads"]) == set(self.setup.notes), f"pads {sorted(out['pads'])}")
            return [check_sound(sound, self.setup) for sound in out["pads"].values()][:4]

        return self.json_request("kit", "/api/kit", {"seed": int(self.rng.integers(1000))}, check)

    def pads(self) -> dict[str, dict]:
        """A kit's pads with one swapped for a recent sound (so some exports render)."""
        pads = dict(self.setup.kits[self.rng.integers(len(self.setup.kits))])
        names = list(pads)
        pads[names[self.rng.integers(len(names))]] = ref(self.pick())
        return pads

    def pattern(self) -> dict:
        """A pads-and-pattern body: 3 to 6 pads, 16 or 32 steps, some accents, a tempo and a swing."""
        pads = self.pads()
        steps = int(self.rng.choice([16, 32]))
        names = self.rng.choice(list(pads), size=int(self.rng.integers(3, 7)), replace=False)
        cells = {str(name): self.rng.choice(3, size=steps, p=[0.6, 0.3, 0.1]).tolist() for name in names}
        cells[str(names[0])][0] = 2  # at least one hit
        tempo = round(float(self.rng.uniform(70, 180)), 1)
        swing = float(self.rng.choice([0.0, 0.2, 0.33]))
        return {"pads": pads, "pattern": cells, "steps": steps, "tempo": tempo, "swing": swing}

    def export_kit(self) -> Request:
        pads = self.pads()
        formats = list(KIT_FORMATS)
        weights = np.array(list(KIT_FORMATS.values()), float)
        fmt = formats[self.rng.choice(len(formats), p=weights / weights.sum())]
        payload = {"pads": pads, "format": fmt, "name": "Soak kit", "demo": bool(self.rng.random() < 0.3)}

        def check(data: bytes) -> list[dict]:
            wavs, midis = kit_wavs(data)
            expect(len(wavs) >= len(pads), f"{len(wavs)} WAVs for {len(pads)} pads ({fmt})")
            for wav in wavs:
                check_wav(wav, self.setup.rate)
            for midi in midis:
                mido.MidiFile(file=io.BytesIO(midi))
            return []

        content = json.dumps(payload).encode()
        return Request("export_kit", "POST", "/api/export/kit", content, "application/json", "application/zip", check)

    def export_loop(self) -> Request:
        payload = self.pattern()
        frames = round(payload["steps"] * 60 / payload["tempo"] / 4 * self.setup.rate)

        def check(data: bytes) -> list[dict]:
            expect(np.abs(check_wav(data, self.setup.rate, frames)).max() > 0, "a silent loop")
            return []

        content = json.dumps(payload).encode()
        return Request("export_loop", "POST", "/api/export/loop", content, "application/json", "audio/wav", check)

    def export_midi(self) -> Request:
        payload = self.pattern()
        hits = sum(1 for values in payload["pattern"].values() for value in values if value)
        notes = {self.setup.notes[name] for name, values in payload["pattern"].items() if any(values)}

        def check(data: bytes) -> list[dict]:
            on = [m for m in mido.MidiFile(file=io.BytesIO(data)).tracks[0] if m.type == "note_on"]
            expect(len(on) == hits, f"{len(on)} notes for {hits} hits")
            expect({m.note for m in on} == notes and all(m.channel == 9 for m in on), "wrong notes or channel")
            return []

        content = json.dumps(payload).encode()
        return Request("export_midi", "POST", "/api/export/midi", content, "application/json", "audio/midi", check)


class Budget:
    """The soak's bounds, shared by the clients: a deadline and a request count."""

    def __init__(self, seconds: float, max_requests: int) -> None:
        self.deadline = time.monotonic() + seconds
        self.max_requests = max_requests
        self.issued = 0
        self._lock = threading.Lock()

    def take(self) -> bool:
        """True (and one request counted) while time and requests are left."""
        with self._lock:
            if time.monotonic() >= self.deadline or self.issued >= self.max_requests:
                return False
            self.issued += 1
            return True


def run_mix(port: int, setup: Setup, clients: int, budget: Budget, seed: int, phase: int) -> Tally:
    """The mix from `clients` threads until the budget is spent; their tallies merged."""
    workers = [Client(index, port, setup, seed, phase) for index in range(clients)]

    def loop(client: Client) -> None:
        while budget.take():
            client.step()
        client.close()

    threads = [threading.Thread(target=loop, args=(client,)) for client in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    tally = Tally()
    for client in workers:
        tally.merge(client.tally)
    return tally


def call(port: int, method: str, path: str, payload: dict | None = None) -> bytes:
    """One set-up request; anything but 200 stops the bench."""
    connection = http.client.HTTPConnection(HOST, port, timeout=120)
    content = None if payload is None else json.dumps(payload).encode()
    connection.request(method, path, content, {"Content-Type": "application/json"} if content else {})
    response = connection.getresponse()
    data = response.read()
    connection.close()
    if response.status != 200:
        raise SystemExit(f"set-up request {method} {path} failed: {response.status} {data[:200]!r}")
    return data


def prepare(port: int, hot: int, kits: int) -> Setup:
    """The model's facts, `hot` generated sounds, `kits` kits' pads and the upload files (real drum WAVs)."""
    model = json.loads(call(port, "GET", "/api/model"))
    instruments = model["instruments"]
    sounds = [
        json.loads(call(port, "POST", "/api/generate", {"instrument": instruments[i % len(instruments)], "seed": i}))
        for i in range(hot)
    ]
    pads = [
        {name: ref(sound) for name, sound in json.loads(call(port, "POST", "/api/kit", {"seed": i}))["pads"].items()}
        for i in range(kits)
    ]
    uploads = []
    for instrument in [name for name in ("kick", "snare", "hihat", "clap") if name in instruments] or instruments[:4]:
        sound = json.loads(call(port, "POST", "/api/generate", {"instrument": instrument, "seed": 7}))
        wav = call(port, "GET", sound["url"])
        audio, rate = sf.read(io.BytesIO(wav), dtype="float32")
        buffer = io.BytesIO()
        sf.write(buffer, np.stack([audio, 0.8 * audio], axis=1), rate, subtype="PCM_24", format="WAV")
        uploads += [wav, buffer.getvalue()]
    notes = {pad["name"]: pad["note"] for pad in model["pads"]}
    return Setup(model["sample_rate"], model["latent_dim"], instruments, notes, sounds, pads, uploads)


def tree_rss(pid: int) -> tuple[float, int]:
    """Resident memory (MiB) of `pid` and its descendants, and how many processes that is."""
    total, count, pending = 0.0, 0, [pid]
    while pending:
        current = pending.pop()
        try:
            total += rss_mb(current)
            for children in Path(f"/proc/{current}/task").glob("*/children"):
                pending += [int(child) for child in children.read_text().split()]
        except OSError:
            continue
        count += 1
    return total, count


def open_files(pid: int) -> int:
    """Open file descriptors of `pid`."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def sample(pid: int, start: float) -> dict:
    """Seconds since `start`, RSS of the process tree, its process count and open files."""
    rss, processes = tree_rss(pid)
    return {
        "t": round(time.monotonic() - start, 1),
        "rss_mb": round(rss, 1),
        "processes": processes,
        "fds": open_files(pid),
    }


def sample_memory(pid: int, every: float, stop: threading.Event, samples: list[dict], budget: Budget) -> None:
    """Append a `sample` to `samples` every `every` seconds until `stop` (and print progress on stderr)."""
    start = time.monotonic()
    while True:
        samples.append(sample(pid, start))
        print(json.dumps({**samples[-1], "requests": budget.issued}), file=sys.stderr, flush=True)
        if stop.wait(every):
            return


def percentiles(values: list[float]) -> dict:
    """Count, p50, p99 and max of latencies in ms."""
    if not values:
        return {"requests": 0}
    array = np.asarray(values)
    return {
        "requests": len(values),
        "p50_ms": round(float(np.percentile(array, 50)), 1),
        "p99_ms": round(float(np.percentile(array, 99)), 1),
        "max_ms": round(float(array.max()), 1),
    }


def memory_report(samples: list[dict], after: dict, limit: float) -> dict:
    """Start, end and max RSS under load, the thirds' medians and the growth judged against `limit` MiB.

    `after` is the sample taken once the clients stopped (reported, not judged).
    """
    rss = np.array([sample["rss_mb"] for sample in samples])
    third = len(rss) // 3
    first, middle, last = (float(np.median(part)) for part in (rss[:third], rss[third : 2 * third], rss[2 * third :]))
    growth = float(last - middle)
    return {
        "samples": len(rss),
        "processes": max(sample["processes"] for sample in [*samples, after]),
        "rss_mb_start": float(rss[0]),
        "rss_mb_end": float(rss[-1]),
        "rss_mb_max": float(rss.max()),
        "rss_mb_thirds_medians": [round(first, 1), round(middle, 1), round(last, 1)],
        "growth_mb": round(growth, 1),
        "growth_limit_mb": limit,
        "flat": third >= 1 and growth <= limit,
        "rss_mb_idle_after": after["rss_mb"],
        "fds_start": samples[0]["fds"],
        "fds_max": max(sample["fds"] for sample in samples),
        "fds_idle_after": after["fds"],
        "rss_mb": [sample["rss_mb"] for sample in samples],
    }


def write_entry(args: argparse.Namespace, report: dict) -> None:
    """The soak's figure for docs/results/performance.json, to `--out` when given."""
    memory, generate = report["memory"], report["routes"]["generate_hot"]
    thirds = " / ".join(f"{value:.0f}" for value in memory["rss_mb_thirds_medians"])
    note = (
        f"in {report['requests']:,} requests; p99 {report.get('overall_p99_ms')} ms over all routes (cached generate "
        f"p50 {generate.get('p50_ms')} ms); RSS medians of the three thirds {thirds} MB: "
        f"{'flat' if memory['flat'] else 'growing'} (growth {memory['growth_mb']} MB, limit {memory['growth_limit_mb']:g})"
    )
    title = (
        f"`dkvae serve` soak: {args.clients} loopback clients, {args.minutes:g} minutes of a seeded mix "
        "(generate, play, render, vary, upload, morph, kit, kit/loop/MIDI exports), every response checked"
    )
    target = f"no error, memory growth ≤ {args.growth_limit_mb:g} MB"
    record.write(args.out, record.entry("soak", title, report["errors"], "errors", note, report, target))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="model directory (default: the bundled model)")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--minutes", type=float, default=10.0, help="time bound of the soak")
    parser.add_argument("--max-requests", type=int, default=200_000, help="count bound of the soak")
    parser.add_argument("--warmup-seconds", type=float, default=30.0)
    parser.add_argument("--fill", type=int, default=HISTORY_SIZE + FILL_MARGIN, help="new sounds before the warm-up")
    parser.add_argument("--hot", type=int, default=64, help="seeds generated beforehand (the cached generates)")
    parser.add_argument("--kits", type=int, default=4, help="kits made beforehand (the exports' pads)")
    parser.add_argument("--sample-seconds", type=float, default=5.0, help="RSS sampling period")
    parser.add_argument("--growth-limit-mb", type=float, default=16.0)
    parser.add_argument("--seed", type=int, default=0)
    record.add_out(parser)
    args = parser.parse_args()

    port = free_port()
    server = start_server(port, args.model)
    try:
        started = time.perf_counter()
        fill = drive(port, [body("kick" if i % 2 else "snare", 10**7 + i) for i in range(args.fill)], args.clients)
        fill_errors = sum(count for status, count in fill["statuses"].items() if status != "200")
        setup = prepare(port, args.hot, args.kits)
        warmup = run_mix(port, setup, args.clients, Budget(args.warmup_seconds, args.max_requests), args.seed, 0)
        warmup_seconds = time.perf_counter() - started
        print(json.dumps({"warmed_up_s": round(warmup_seconds, 1), "errors": warmup.errors}), file=sys.stderr)

        samples: list[dict] = []
        stop = threading.Event()
        budget = Budget(args.minutes * 60, args.max_requests)
        sampler = threading.Thread(target=sample_memory, args=(server.pid, args.sample_seconds, stop, samples, budget))
        started, clock = time.perf_counter(), time.monotonic()
        sampler.start()
        soak = run_mix(port, setup, args.clients, budget, args.seed, 1)
        elapsed = time.perf_counter() - started
        stop.set()
        sampler.join()
        time.sleep(1)  # the server closes the clients' connections
        memory = memory_report(samples, sample(server.pid, clock), args.growth_limit_mb)
        everything = [value for values in soak.latencies.values() for value in values]
        errors = soak.errors + warmup.errors + fill_errors
        report = {
            "bench": "soak",
            "clients": args.clients,
            "cpus": os.cpu_count(),
            "model": str(args.model) if args.model else "bundled",
            "seconds": round(elapsed, 1),
            "requests": soak.count + soak.errors,
            "requests_per_s": round((soak.count + soak.errors) / elapsed, 1),
            "errors": errors,
            "error_samples": (warmup.samples + soak.samples)[:ERROR_SAMPLES],
            **{f"overall_{key}": value for key, value in percentiles(everything).items() if key != "requests"},
            "routes": {kind: {"route": MIX[kind][1], **percentiles(soak.latencies[kind])} for kind in MIX},
            "warmup": {
                "seconds": round(warmup_seconds, 1),
                "fill_sounds": args.fill,
                "fill_statuses": fill["statuses"],
                "mix_requests": warmup.count + warmup.errors,
                "errors": warmup.errors + fill_errors,
            },
            "memory": memory,
            "cache_mb": CACHE_BYTES / 2**20,
            "history_size": HISTORY_SIZE,
        }
        print(json.dumps(report))
    finally:
        server.terminate()
        server.wait(timeout=10)
    write_entry(args, report)
    sys.exit(1 if errors else 0 if memory["flat"] else 2)


if __name__ == "__main__":
    main()
