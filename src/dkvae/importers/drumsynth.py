"""Import DrumSynth presets (``.ds``, shipped with LMMS) into a bank, rendered by LMMS's own engine.

Backs ``dkvae import drumsynth [DRUMSYNTH_DIR] --out BANK``. A ``.ds`` file is a recipe, not audio:
each one is rendered by running ``lmms render`` on a one-note project whose only instrument is
LMMS's AudioFileProcessor holding the preset (LMMS decodes ``.ds`` through its DrumSynth loader).
The render's tail is cut where it decays below `TAIL_THRESHOLD_DB` relative to its peak; silent or
failed renders and exact duplicates are reported with their reason, never imported.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import soundfile as sf

from dkvae.core.classes import classify_name
from dkvae.core.config import SILENCE_FLOOR_DB
from dkvae.core.errors import DkvaeError
from dkvae.core.names import safe_name
from dkvae.core.progress import Progress
from dkvae.data.layout import BankWriter
from dkvae.importers.licenses import UNKNOWN_LICENSE, debian_license, write_licenses
from dkvae.importers.report import ImportReport
from dkvae.sound.audio import cut_at_decay, peak_db

SYSTEM_DRUMSYNTH_DIR = Path("/usr/share/lmms/samples/drumsynth")
PRESET_SUFFIX = ".ds"
#: The Debian package holding the presets (its copyright file gives their license), and the one with lmms.
DEBIAN_PACKAGE = "lmms-common"
INSTALL_HINT = "sudo apt-get install lmms lmms-common"
#: Where the presets sit in LMMS's source tree, as Debian's copyright file names files.
UPSTREAM_PRESET_DIR = "data/samples/drumsynth"

LMMS_EXECUTABLE = "lmms"
SAMPLE_RATE = 44100
#: The note played: LMMS's default base note (A4), so the preset sounds at its own pitch.
BASE_NOTE = 57
TEMPO_BPM = 120
TICKS_PER_BAR = 192
#: Ticks per second at `TEMPO_BPM` in 4/4 (a bar is 4 beats).
TICKS_PER_SECOND = TICKS_PER_BAR * TEMPO_BPM / (4 * 60)
#: DrumSynth envelope times are in samples at this rate.
DRUMSYNTH_RATE = 44100
#: The note is held this long past the preset's longest envelope (AudioFileProcessor stops at note off).
NOTE_MARGIN_SECONDS = 0.5
#: The longest note played, and the length used when a preset's envelopes cannot be read.
MAX_NOTE_SECONDS = 16.0
#: Seconds one LMMS run may take before the preset is skipped.
RENDER_TIMEOUT_SECONDS = 120.0
#: LMMS 1.2.2 crashes now and then (SIGSEGV, about 1 run in 100, often on exit): a failed run is retried.
RENDER_ATTEMPTS = 3

#: The render ends where it last reaches this level relative to its peak (dB) ...
TAIL_THRESHOLD_DB = -60.0
#: ... with a half-cosine fade over this many seconds before the cut.
TAIL_FADE_SECONDS = 0.005

#: DrumSynth's naming shorthand, expanded before `classify_name` reads a preset name. Single letters
#: count only as a name's first word ("K_Linn", "S_reverb", "H_open"); the rest anywhere ("amen_sn_1").
_ENVELOPE_LINE = re.compile(r"^\s*Envelope\d*\s*=(.*)$", re.IGNORECASE | re.MULTILINE)
_STRETCH_LINE = re.compile(r"^\s*Stretch\s*=\s*([-+0-9.eE]+)", re.IGNORECASE | re.MULTILINE)


class RenderError(Exception):
    """LMMS could not turn a preset into a usable sound; the message is the reason reported."""


@dataclass(frozen=True)
class _Preset:
    path: Path
    machine: str
    name: str

    @property
    def item(self) -> str:
        return f"{self.machine}/{self.name}"


# --- finding and naming presets -------------------------------------------------------------------


def _lmms() -> str:
    """The path of the lmms executable; raises DkvaeError telling how to install it."""
    found = shutil.which(LMMS_EXECUTABLE)
    if found is None:
        raise DkvaeError(f"LMMS is needed to render DrumSynth presets: install it with `{INSTALL_HINT}`")
    return found


def _source_folder(source: str | os.PathLike[str] | None) -> Path:
    """The folder to import; raises DkvaeError if it is missing."""
    if source is None:
        if not SYSTEM_DRUMSYNTH_DIR.is_dir():
            raise DkvaeError(f"No DrumSynth presets in {SYSTEM_DRUMSYNTH_DIR}: install them with `{INSTALL_HINT}`")
        return SYSTEM_DRUMSYNTH_DIR
    folder = Path(source).expanduser()
    if not folder.is_dir():
        raise DkvaeError(f"DrumSynth folder not found: {folder}")
    return folder


def _find_presets(folder: Path) -> list[_Preset]:
    """Every ``.ds`` file under `folder`, sorted; the machine is the folder holding the file."""
    paths = sorted(path for path in folder.rglob("*") if path.suffix.lower() == PRESET_SUFFIX and path.is_file())
    return [_Preset(path, path.parent.name, path.stem) for path in paths]


def preset_label(name: str, machine: str) -> str | None:
    """The drum class of preset `name` in machine folder `machine`, or None if unsorted.

    The folder is consulted only when the name says nothing ("misc_hats/lighthat"), without its
    digits, so a machine's model number ("tr808") is not read as the "808" kick keyword. DrumSynth's
    abbreviations ("amen_sn_1", "linn_clp") are keywords of `dkvae.core.classes`; a lone letter
    ("K_Linn") is not, so such presets stay unsorted rather than guessed.

    >>> preset_label("Hat_c", "tr808"), preset_label("amen_sn_1", "misc"), preset_label("sleepy_1", "misc_hats")
    ('hihat', 'snare', 'hihat')
    """
    return classify_name(name, re.sub(r"\d+", " ", machine))


# --- rendering ------------------------------------------------------------------------------------


def preset_seconds(path: Path) -> float:
    """How long preset `path` sounds (its longest envelope times its stretch), in seconds.

    Every envelope counts, switched on or not, so this is an upper bound; unreadable presets give
    `MAX_NOTE_SECONDS`.
    """
    try:
        text = path.read_text(encoding="latin-1")
    except OSError:
        return MAX_NOTE_SECONDS
    ends = []
    for points in _ENVELOPE_LINE.findall(text):
        times = re.findall(r"([0-9.]+)\s*,\s*[-0-9.]+", points)
        ends += [float(time) for time in times if _is_number(time)]
    stretch_match = _STRETCH_LINE.search(text)
    stretch = float(stretch_match.group(1)) if stretch_match and _is_number(stretch_match.group(1)) else 100.0
    if not ends or stretch <= 0:
        return MAX_NOTE_SECONDS
    return min(max(ends) * stretch / 100.0 / DRUMSYNTH_RATE, MAX_NOTE_SECONDS)


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def project_xml(preset: str | os.PathLike[str], note_seconds: float) -> str:
    """A minimal LMMS project (``.mmp`` XML) playing `preset` once, for `note_seconds`, at its own pitch.

    One instrument track with the AudioFileProcessor plugin whose sample is the preset file, and one
    note at the track's base note starting at time 0.
    """
    root = ElementTree.Element("lmms-project", version="1.0", creator="dkvae", type="song")
    ElementTree.SubElement(
        root, "head", bpm=str(TEMPO_BPM), timesig_numerator="4", timesig_denominator="4",
        mastervol="100", masterpitch="0",
    )  # fmt: skip
    song = ElementTree.SubElement(root, "song")
    container = ElementTree.SubElement(song, "trackcontainer", type="song")
    track = ElementTree.SubElement(container, "track", type="0", name=Path(preset).stem, muted="0", solo="0")
    instrument_track = ElementTree.SubElement(
        track, "instrumenttrack", vol="100", pan="0", basenote=str(BASE_NOTE), pitch="0", pitchrange="1",
        fxch="0", usemasterpitch="1",
    )  # fmt: skip
    instrument = ElementTree.SubElement(instrument_track, "instrument", name="audiofileprocessor")
    ElementTree.SubElement(
        instrument, "audiofileprocessor", src=str(Path(preset).absolute()), amp="100", reversed="0", looped="0",
        sframe="0", eframe="1", lframe="0", stutter="0", interp="1",
    )  # fmt: skip
    pattern = ElementTree.SubElement(track, "pattern", type="0", pos="0", steps="16", muted="0", name="")
    ticks = max(1, math.ceil(note_seconds * TICKS_PER_SECOND))
    ElementTree.SubElement(pattern, "note", key=str(BASE_NOTE), vol="100", pan="0", pos="0", len=str(ticks))
    body = ElementTree.tostring(root, encoding="unicode")
    return f'<?xml version="1.0"?>\n<!DOCTYPE lmms-project>\n{body}\n'


def render_preset(preset: str | os.PathLike[str], lmms: str | None = None) -> np.ndarray:
    """Render `preset` with LMMS: ``(samples,)`` float32 at `SAMPLE_RATE` Hz, not yet cut.

    LMMS runs headless (Qt's offscreen platform) with a throwaway home folder and config, so it
    neither reads nor writes the user's LMMS settings; a run that fails is tried again, up to
    `RENDER_ATTEMPTS` runs in all. Raises RenderError with the reason.
    """
    lmms = lmms or _lmms()
    preset = Path(preset)
    with tempfile.TemporaryDirectory(prefix="dkvae-drumsynth-") as work:
        work_dir = Path(work)
        project, output = work_dir / "project.mmp", work_dir / "render.wav"
        project.write_text(project_xml(preset, preset_seconds(preset) + NOTE_MARGIN_SECONDS), encoding="utf-8")
        command = [
            lmms, "--allowroot", "-c", str(work_dir / "lmmsrc.xml"), "render", str(project),
            "-f", "wav", "-a", "-s", str(SAMPLE_RATE), "-o", str(output),
        ]  # fmt: skip
        environment = {**os.environ, "HOME": str(work_dir), "QT_QPA_PLATFORM": "offscreen"}
        for attempt in range(1, RENDER_ATTEMPTS + 1):
            output.unlink(missing_ok=True)
            try:
                _run_lmms(command, environment, work_dir, output)
                audio, rate = sf.read(output, dtype="float32", always_2d=True)
                break
            except (RenderError, sf.LibsndfileError, RuntimeError) as error:
                if attempt == RENDER_ATTEMPTS:
                    raise RenderError(f"{error} ({RENDER_ATTEMPTS} tries)") from None
    if rate != SAMPLE_RATE:
        raise RenderError(f"lmms rendered at {rate} Hz instead of {SAMPLE_RATE} Hz")
    return audio.mean(axis=1)


def _run_lmms(command: list[str], environment: dict[str, str], work_dir: Path, output: Path) -> None:
    """Run one LMMS render; raises RenderError saying why if it fails or writes nothing."""
    try:
        result = subprocess.run(
            command, env=environment, cwd=work_dir, capture_output=True, text=True,
            errors="replace", timeout=RENDER_TIMEOUT_SECONDS, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise RenderError(f"lmms took longer than {RENDER_TIMEOUT_SECONDS:g} s") from None
    except OSError as error:
        raise RenderError(f"lmms could not start: {error}") from None
    if result.returncode < 0:
        raise RenderError(f"lmms crashed (signal {-result.returncode})")
    if result.returncode != 0 or not output.is_file():
        lines = [line for line in (result.stderr + result.stdout).splitlines() if line.strip()]
        detail = lines[-1].strip() if lines else "no output"
        raise RenderError(f"lmms failed (exit code {result.returncode}): {detail}")


def _render_and_cut(preset: _Preset, lmms: str) -> np.ndarray:
    """The preset as it goes into the bank: rendered, tail cut, peak kept at most full scale."""
    audio = render_preset(preset.path, lmms)
    if not np.isfinite(audio).all():
        raise RenderError("lmms rendered non-finite samples")
    level = peak_db(audio)
    if level < SILENCE_FLOOR_DB:
        raise RenderError(f"renders silence (peak {level:.0f} dBFS): not a preset LMMS can read")
    audio = cut_at_decay(audio, TAIL_THRESHOLD_DB, round(TAIL_FADE_SECONDS * SAMPLE_RATE))
    if level > 0:  # the float render may exceed full scale; a 16-bit file would clip it
        audio = audio / np.float32(10.0 ** (level / 20.0))
    return audio


# --- importing ------------------------------------------------------------------------------------


def _license(preset: _Preset, folder: Path) -> str:
    """The license Debian's copyright file gives the preset (the package's main one, GPL-2+, for LMMS)."""
    try:
        relative = preset.path.relative_to(folder).as_posix()
    except ValueError:
        relative = preset.path.name
    candidates = [
        f"{UPSTREAM_PRESET_DIR}/{preset.machine}/{preset.path.name}",
        f"{UPSTREAM_PRESET_DIR}/{relative}",
        relative,
    ]
    return debian_license(DEBIAN_PACKAGE, candidates) or UNKNOWN_LICENSE


def _render_job(preset: _Preset, lmms: str) -> np.ndarray | str:
    """The cut render of `preset`, or the reason it has none (run in worker threads)."""
    try:
        return _render_and_cut(preset, lmms)
    except RenderError as error:
        return str(error)


def import_drumsynth(
    out: str | os.PathLike[str],
    source: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
    workers: int | None = None,
) -> ImportReport:
    """Render DrumSynth presets with LMMS into the bank at `out`; return what was imported and left out.

    `source` is a folder of machine folders holding ``.ds`` files (default: LMMS's, in
    `SYSTEM_DRUMSYNTH_DIR`), or one machine folder. Each preset whose name maps to a drum class
    (`preset_label`) is rendered at 44.1 kHz, cut after its decay to -60 dB, and written as
    ``out/<class>/<machine>__<preset>.wav`` with a manifest row (source lmms-common, kit = machine,
    instrument = preset, license, group ``drumsynth/<machine>/<preset>``). Renders LMMS fails on,
    silent renders and duplicates of an earlier preset (same file, or same rendered samples) are
    reported in ``skipped``; names that
    map to no class in ``unsorted``. `workers` LMMS processes run at once (default: the CPU count);
    `progress(done, total)` is called as presets are rendered.

    Raises DkvaeError if lmms is not installed or `source` is missing or holds no presets.
    """
    lmms = _lmms()
    folder = _source_folder(source)
    presets = _find_presets(folder)
    if not presets:
        raise DkvaeError(f"No DrumSynth presets (*{PRESET_SUFFIX}) in {folder}")
    report = ImportReport()
    planned: list[tuple[_Preset, str]] = []
    files: dict[str, str] = {}  # digest of a preset file -> the first preset with those bytes
    for preset in presets:
        label = preset_label(preset.name, preset.machine)
        if label is None:
            report.unsorted.append((preset.item, "name maps to no drum class, or to two"))
            continue
        # Identical files are caught here: noise in DrumSynth is not always seeded alike, so their
        # renders may differ.
        digest = hashlib.sha256(preset.path.read_bytes()).hexdigest()
        if digest in files:
            report.skipped.append((preset.item, f"duplicate of {files[digest]} (same preset file)"))
            continue
        files[digest] = preset.item
        planned.append((preset, label))

    workers = max(1, workers or os.cpu_count() or 1)
    seen: dict[str, str] = {}  # digest of the written samples -> the preset that brought them
    machines: set[str] = set()
    taken: set[str] = set()
    with BankWriter(out) as writer, ThreadPoolExecutor(max_workers=workers) as pool:
        renders = pool.map(lambda preset: _render_job(preset, lmms), [preset for preset, _ in planned])
        for done, ((preset, label), rendered) in enumerate(zip(planned, renders), start=1):
            if progress:
                progress(done, len(planned))
            if isinstance(rendered, str):
                report.skipped.append((preset.item, rendered))
                continue
            pcm = np.round(np.clip(rendered, -1.0, 1.0) * 32767).astype("<i2")
            digest = hashlib.sha256(pcm.tobytes()).hexdigest()
            if digest in seen:
                report.skipped.append((preset.item, f"duplicate of {seen[digest]}"))
                continue
            seen[digest] = preset.item
            name = f"{safe_name(preset.machine)}__{safe_name(preset.name)}"
            if name.casefold() in taken:  # two names that differ only in characters safe_name drops
                report.skipped.append((preset.item, f"file name {name}.wav already taken"))
                continue
            taken.add(name.casefold())
            writer.write_audio(
                label,
                f"{name}.wav",
                rendered,
                SAMPLE_RATE,
                source=DEBIAN_PACKAGE,
                kit=preset.machine,
                instrument=preset.name,
                license=_license(preset, folder),
                group=f"drumsynth/{preset.item}",
            )
            report.counts[label] += 1
            machines.add(preset.machine)
    report.kits = len(machines)
    write_licenses(Path(out))
    return report
