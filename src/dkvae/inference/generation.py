"""Write what a `DrumMachine` makes to disk: a WAV per sound and a JSON sidecar that can re-create it bit for bit.

A sidecar (``<name>.json`` beside ``<name>.wav``) records the model (its id and where it was), the
class or class blend, the latent vector at full float32 precision, and the settings; `render_sidecar`
decodes it again. Every writer here backs one CLI command: generate, reconstruct, interpolate,
vary and render (kits: `dkvae.kits`).
"""

from __future__ import annotations

import io
import json
import math
import os
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from dkvae import __version__
from dkvae.core.atomic import write_text
from dkvae.core.config import SMOOTH_CURVATURE, InversionConfig
from dkvae.core.errors import DkvaeError
from dkvae.core.names import safe_name
from dkvae.inference.machine import DrumMachine, bundled_model_dir
from dkvae.sound.files import read_sound_file
from dkvae.sound.wav import WAV_SUBTYPES, check_bit_depth

SIDECAR_FORMAT = "dkvae-sound"
#: What a sidecar's ``model`` says for the bundled model (its install path differs per machine).
BUNDLED = "bundled"
#: Sounds `write_generated` renders at once (spread over the machine's render threads) before writing them.
WRITE_CHUNK = 32
#: The largest sidecar read. One of a preset's models is a few KB to 30 KB (a codec's latent of 1040 floats);
#: this holds a latent of over half a million, and keeps a huge file (a mistake or a trap) from being read whole.
MAX_SIDECAR_BYTES = 16 << 20
#: A file takes whole blocks of this many bytes on disk (ext4's, NTFS's and APFS's usual size).
DISK_BLOCK_BYTES = 4096


@dataclass
class Recipe:
    """What made one sound: enough to decode it again with the same model."""

    operation: str
    latent: list[float]
    instrument: str
    #: One weight per model class when the sound blends classes (a morph step); else None.
    class_weights: list[float] | None = None
    seed: int | None = None
    index: int = 0
    details: dict[str, Any] = field(default_factory=dict)


def model_reference(machine: DrumMachine) -> str:
    """How a sidecar names the model: `BUNDLED`, or the model directory's absolute path."""
    path = machine.directory.path
    if path is not None and Path(path).resolve() == bundled_model_dir().resolve():
        return BUNDLED
    return str(Path(path).resolve()) if path is not None else ""


def sidecar_document(machine: DrumMachine, recipe: Recipe, bit_depth: int) -> dict[str, Any]:
    """The JSON sidecar of a sound made by `machine` from `recipe`."""
    return {
        "format": SIDECAR_FORMAT,
        "dkvae_version": __version__,
        "model_id": machine.model_id,
        "model": model_reference(machine),
        "operation": recipe.operation,
        "instrument": recipe.instrument,
        "class_weights": recipe.class_weights,
        "seed": recipe.seed,
        "index": recipe.index,
        "latent": [float(value) for value in np.asarray(recipe.latent, np.float32)],
        "sample_rate": machine.sample_rate,
        "bit_depth": bit_depth,
        "inversion": vars(machine.config.inversion),
        "details": recipe.details,
    }


def write_sound(
    machine: DrumMachine, path: Path, audio: np.ndarray, recipe: Recipe, bit_depth: int = 16
) -> Path:
    """Write one sound as ``path`` (WAV) and its sidecar ``path.with_suffix('.json')``; returns the WAV path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    machine.save_wav(path, audio, bit_depth)
    write_text(path.with_suffix(".json"), json.dumps(sidecar_document(machine, recipe, bit_depth), indent=2))
    return path


def disk_bytes_per_sound(machine: DrumMachine, bit_depth: int = 16) -> int:
    """The most bytes on disk one written sound takes: its WAV at full length and its sidecar, in whole blocks."""
    check_bit_depth(bit_depth)
    samples = math.ceil(machine.config.audio.duration * machine.sample_rate)
    wav = io.BytesIO()
    sf.write(wav, np.zeros(samples, np.float32), machine.sample_rate, WAV_SUBTYPES[bit_depth], format="WAV")
    latent = [float(np.float32(-1 / 3))] * machine.latent_dim  # a float32 with the longest decimal form
    recipe = Recipe("generate", latent, max(machine.instruments, key=len), seed=0, index=0)
    sidecar = json.dumps(sidecar_document(machine, recipe, bit_depth), indent=2).encode()
    return sum(math.ceil(len(data) / DISK_BLOCK_BYTES) * DISK_BLOCK_BYTES for data in (wav.getvalue(), sidecar))


def _existing_folder(path: Path) -> Path:
    """`path`, or the nearest folder above it that exists (where a new `path` would be made)."""
    path = path.absolute()
    while not path.is_dir() and path != path.parent:
        path = path.parent
    return path


def _size(size_bytes: int) -> str:
    """A number of bytes for a person: ``1.2 GB``."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9)):
        if size_bytes >= scale:
            return f"{size_bytes / scale:.1f} {unit}"
    return f"{size_bytes / 1e6:.1f} MB"


def check_room(machine: DrumMachine, count: int, out: str | os.PathLike[str], bit_depth: int = 16) -> None:
    """Refuse to write `count` sounds into `out` when their files would not fit on its disk (so none are written)."""
    need = count * disk_bytes_per_sound(machine, bit_depth)
    free = shutil.disk_usage(_existing_folder(Path(out))).free
    if need > free:
        raise DkvaeError(
            f"{count} sounds need up to {_size(need)}, but only {_size(free)} are free for {out}; "
            "ask for fewer or make room"
        )


def write_generated(
    machine: DrumMachine,
    instrument: str,
    count: int,
    seed: int,
    out: str | os.PathLike[str],
    bit_depth: int = 16,
    temperature: float = 1.0,
) -> list[Path]:
    """`count` new sounds of `instrument` as ``OUT/<instrument>_<seed>_<index>.wav`` with sidecars.

    At a `temperature` other than 1 the names say it, ``<instrument>_<seed>_t<temperature>_<index>.wav``,
    so sounds of one seed at two temperatures do not overwrite each other. A count whose files would
    not fit on the disk is refused before any is written (`check_room`).
    """
    check_room(machine, count, out, bit_depth)
    latents = machine.sample_latents(count, seed, instrument, temperature)
    folder = Path(out)
    name = safe_name(instrument)  # a model's class name is not trusted to be a file name
    stem = f"{name}_{seed}" if temperature == 1.0 else f"{name}_{seed}_t{temperature:g}"
    details = {"temperature": temperature}
    written = []
    for start in range(0, count, WRITE_CHUNK):
        chunk = latents[start : start + WRITE_CHUNK]
        for index, (latent, sound) in enumerate(zip(chunk, machine.render(chunk, instrument)), start):
            recipe = Recipe("generate", latent.tolist(), instrument, seed=seed, index=index, details=details)
            path = folder / f"{stem}_{index:03d}.wav"
            written.append(write_sound(machine, path, sound, recipe, bit_depth))
    return written


def write_reconstructions(
    machine: DrumMachine, files: list[Path], out: str | os.PathLike[str], bit_depth: int = 16
) -> tuple[list[Path], list[tuple[str, str]]]:
    """``OUT/<stem>.wav`` for each input: encode, decode. Returns (written, [(file, reason) skipped])."""
    folder = Path(out)
    written: list[Path] = []
    skipped: list[tuple[str, str]] = []
    for file in files:
        try:
            audio, rate = read_sound_file(file)
            latent, instrument = machine.analyse(audio, rate)
        except DkvaeError as error:
            skipped.append((str(file), str(error)))
            continue
        recipe = Recipe("reconstruct", latent.tolist(), instrument, details={"source": str(file)})
        audio_out = machine.render(latent[None], instrument)[0]
        written.append(write_sound(machine, folder / f"{Path(file).stem}.wav", audio_out, recipe, bit_depth))
    return written, skipped


def write_interpolation(
    machine: DrumMachine,
    file_a: Path,
    file_b: Path,
    steps: int,
    out: str | os.PathLike[str],
    method: str | None = None,
    bit_depth: int = 16,
) -> list[Path]:
    """A morph from `file_a` to `file_b` as ``OUT/morph_<step>.wav`` with sidecars (class blended when they differ).

    Refused before anything is written when the files would not fit on the disk (`check_room`).
    """
    check_room(machine, steps, out, bit_depth)
    (audio_a, rate_a), (audio_b, rate_b) = read_sound_file(file_a), read_sound_file(file_b)
    latents, weights = machine.morph_plan(audio_a, rate_a, audio_b, rate_b, steps, method)  # type: ignore[arg-type]
    blended = not np.array_equal(weights[0], weights[-1])
    details = {"from": str(file_a), "to": str(file_b), "steps": steps, "method": method or machine.default_interpolation}
    paths = []
    for step, (latent, weight) in enumerate(zip(latents, weights)):
        instrument = machine.instruments[int(weight.argmax())]
        blend = weight.tolist() if blended else None
        recipe = Recipe("interpolate", latent.tolist(), instrument, class_weights=blend, index=step, details=details)
        audio = machine.render(latent[None], instrument if blend is None else weight[None])[0]
        paths.append(write_sound(machine, Path(out) / f"morph_{step:02d}.wav", audio, recipe, bit_depth))
    return paths


def write_variations(
    machine: DrumMachine,
    file: Path,
    count: int,
    amount: float,
    seed: int,
    out: str | os.PathLike[str],
    bit_depth: int = 16,
) -> list[Path]:
    """`count` variations of `file` as ``OUT/<stem>_var_<index>.wav`` with sidecars.

    Refused before anything is written when the files would not fit on the disk (`check_room`).
    """
    check_room(machine, count, out, bit_depth)
    audio, rate = read_sound_file(file)
    latents, instrument = machine.variation_latents(audio, rate, count, amount, seed)
    details = {"source": str(file), "amount": amount}
    paths = []
    for index, latent in enumerate(latents):
        recipe = Recipe("vary", latent.tolist(), instrument, seed=seed, index=index, details=details)
        sound = machine.render(latent[None], instrument)[0]
        paths.append(write_sound(machine, Path(out) / f"{Path(file).stem}_var_{index:03d}.wav", sound, recipe, bit_depth))
    return paths


def read_sidecar(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A sound's sidecar, checked to be one of ours; a bad one raises DkvaeError."""
    try:
        document = json.loads(_sidecar_bytes(path).decode("utf-8"))
    except RecursionError:
        raise DkvaeError(f"cannot read sidecar {path}: its JSON is nested too deeply") from None
    except (OSError, ValueError) as error:
        raise DkvaeError(f"cannot read sidecar {path}: {error}") from None
    if not isinstance(document, dict) or document.get("format") != SIDECAR_FORMAT:
        raise DkvaeError(f"{path} is not a dkvae sound sidecar")
    for key in ("model_id", "latent", "instrument", "bit_depth"):
        if key not in document:
            raise DkvaeError(f"sidecar {path} has no {key!r}")
    return document


def _sidecar_bytes(path: str | os.PathLike[str]) -> bytes:
    """The bytes of the sidecar at `path`, refused unless it is a regular file of at most `MAX_SIDECAR_BYTES`.

    Opened without blocking and checked once open, so a FIFO put in its place does not wait for a writer;
    at most one byte past the cap is read, however large the file.
    """
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise DkvaeError(f"cannot read sidecar {path}: not a regular file")
        with open(fd, "rb", closefd=False) as file:
            data = file.read(MAX_SIDECAR_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_SIDECAR_BYTES:
        megabytes = MAX_SIDECAR_BYTES >> 20
        raise DkvaeError(f"cannot read sidecar {path}: it is over {megabytes} MiB, too large for a sidecar")
    return data


def sidecar_machine(
    document: dict[str, Any], path: str | os.PathLike[str], model: str | os.PathLike[str] | None = None
) -> DrumMachine:
    """The model that made a sidecar's sound: `model`, else the one the sidecar names; its weights must match."""
    recorded = document.get("model", "")
    if model is not None:
        machine = DrumMachine.load(model)
    elif recorded == BUNDLED:
        machine = DrumMachine.load()
    elif recorded:
        machine = DrumMachine.load(recorded)
    else:
        raise DkvaeError(f"sidecar {path} names no model; pass --model")
    if machine.model_id != document["model_id"]:
        raise DkvaeError(
            f"the sidecar was made by model {document['model_id']}, but {machine.directory.path} is model {machine.model_id}"
        )
    return machine


def sidecar_latent(document: dict[str, Any], path: str | os.PathLike[str], machine: DrumMachine) -> np.ndarray:
    """A sidecar's latent ``(latent_dim,)`` float32, checked against the model's size and to be finite."""
    with np.errstate(over="ignore"):  # a value past float32's range becomes inf, refused below
        latent = np.asarray(document["latent"], np.float32)
    if latent.shape != (machine.latent_dim,):
        raise DkvaeError(f"sidecar {path} has a latent of size {latent.size}, the model needs {machine.latent_dim}")
    if not np.isfinite(latent).all():
        raise DkvaeError(f"sidecar {path} has a latent with NaN or infinite values")
    return latent


def sidecar_inversion(document: dict[str, Any], path: str | os.PathLike[str], machine: DrumMachine) -> DrumMachine:
    """`machine` rendering with the inversion the sidecar records (made with ``--iterations``, say)."""
    recorded = document.get("inversion")
    if recorded is None:
        return machine
    try:
        # A sidecar from before the smooth guard existed was rendered without it, one from before its line was set.
        settings = InversionConfig(**{"smooth_guard": False, "smooth_curvature": SMOOTH_CURVATURE, **recorded})
    except (TypeError, ValueError) as error:
        raise DkvaeError(f"sidecar {path} has unusable inversion settings: {error}") from None
    return machine.with_inversion(settings)


def render_sidecar(
    path: str | os.PathLike[str], out: str | os.PathLike[str], model: str | os.PathLike[str] | None = None
) -> Path:
    """Re-create the sound a sidecar describes as ``OUT/<sidecar stem>.wav`` (with a copy of the sidecar).

    The model is `model`, else the one the sidecar names; its weights must be the ones recorded.
    """
    document = read_sidecar(path)
    machine = sidecar_inversion(document, path, sidecar_machine(document, path, model))
    latent = sidecar_latent(document, path, machine)
    weights = document.get("class_weights")
    try:
        classes = document["instrument"] if weights is None else np.asarray(weights, np.float32)
    except (TypeError, ValueError):
        raise DkvaeError(f"sidecar {path} has class weights that are not a list of numbers") from None
    audio = machine.render(latent[None], classes)[0]
    target = Path(out) / f"{Path(path).stem}.wav"
    target.parent.mkdir(parents=True, exist_ok=True)
    machine.save_wav(target, audio, int(document["bit_depth"]))
    write_text(target.with_suffix(".json"), json.dumps(document, indent=2))
    return target
