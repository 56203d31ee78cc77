"""Import SFZ drum kits (``.sfz`` text plus its sample files) into a bank, one folder per drum class.

Backs ``dkvae import sfz SOURCE --out BANK``. SFZ files are untrusted text: a small parser here
reads only what the import needs (headers, opcodes, ``#define``, ``#include``, comments) and never
runs anything. It follows sfizz: opcodes inherit ``<global>`` -> ``<master>`` -> ``<group>`` ->
``<region>`` (a header resets the levels below it); a value runs to the next ``name=``, header,
directive, comment or line end, so sample paths may hold spaces; ``key=`` sets lokey, hikey and
pitch_keycenter; note names count C4 as 60, shifted by ``octave_offset``/``note_offset`` from
``<control>``. An ``#include`` path is looked up beside the including file, then beside the main
file; sample paths beside the main file (plus ``default_path``), then beside the file holding the
region; each also case-insensitively, for kits made on Windows. Paths may leave the kit folder
("../Samples") as long as the file exists.

The class of a region, most trusted first (`region_class`):

1. A region spanning more than `MAX_DRUM_KEYS` keys with pitch tracking on is a melodic
   instrument: unsorted.
2. Its names -- region label, sample file name, the sample's folders, group/master/global labels,
   the ``.sfz`` file name, in that order -- decide when they name one class through a keyword more
   specific than a generic one ("snare", "sd", "crash", not "808" or "bell"), whatever its key.
3. Else a name whose deciding words mark it as not a drum ("guitar") leaves it unsorted.
4. Else its key, when it is a single key that General MIDI maps to a drum and the file uses the
   GM map: a file whose specifically named single-key regions disagree with GM more often than they
   agree (a kit laid out from C1 upward) does not, and its keys decide nothing.
5. Else a generic name ("808") decides; else it is unsorted with the reason.

Each sample file is imported once, under the first region that imports it; later regions using it
are reported in ``skipped``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import soundfile as sf

from dkvae.core.classes import classify_name, gm_note_class
from dkvae.core.config import AUDIO_EXTENSIONS
from dkvae.core.errors import DkvaeError
from dkvae.core.names import safe_name, unique_name
from dkvae.core.progress import Progress
from dkvae.data.layout import BankWriter
from dkvae.importers.folder import NO_CLASS_REASON, NON_DRUM_REASON, unsorted_reason
from dkvae.importers.licenses import UNKNOWN_LICENSE, debian_license, installed_by, write_licenses
from dkvae.importers.report import ImportReport

SFZ_SUFFIX = ".sfz"
#: The `source` recorded for kits that no Debian package installed.
OTHER_SOURCE = "sfz"
#: Files beside a kit whose name starts with one of these tell its license, tried in this order.
LICENSE_FILE_PREFIXES: tuple[str, ...] = ("license", "licence", "copying", "readme")

#: A region playing on more keys than this, pitched, is a melodic instrument rather than a drum.
MAX_DRUM_KEYS = 12
#: SFZ files larger than this are refused (real instruments are well under a megabyte).
MAX_SFZ_BYTES = 32 * 1024 * 1024
#: ``#include`` nesting deeper than this is refused (cycles are caught before it).
MAX_INCLUDE_DEPTH = 16
#: MIDI note numbers and velocities.
MIDI_MAX = 127
NOTES_PER_OCTAVE = 12

#: Semitones above C of each note letter, and the shift of each accidental.
_PITCH_CLASSES = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}
_ACCIDENTALS = {"": 0, "#": 1, "♯": 1, "b": -1, "♭": -1}
_NOTE_NAME = re.compile(r"([a-g])([#♯b♭]?)(-?\d+)", re.IGNORECASE)

#: One token at the current position; opcode values are measured separately (see `_opcode_value`).
_TOKEN = re.compile(
    r"""
      (?P<skip>\s+|//[^\n]*|/\*.*?(?:\*/|\Z))
    | <(?P<header>\w+)>
    | \#define[ \t]+\$(?P<define>\w+)[ \t]+(?P<define_value>[^\n]*)
    | \#include[ \t]+(?:"(?P<include>[^"\n]*)"|(?P<bare_include>[^\s"]+))
    | (?P<opcode>[\w$]+)=
    | (?P<other>[^\s<]+|<)
    """,
    re.VERBOSE | re.DOTALL,
)
#: Where an opcode value ends on its line: the next ``name=`` or directive after a blank, a header or a comment.
_VALUE_END = re.compile(r"(?<=[ \t])(?:[\w$]+=|\#define\b|\#include\b)|<\w+>|//|/\*")
_COMMENT_START = re.compile(r"//|/\*")
_VARIABLE = re.compile(r"\$(\w+)")

#: Headers whose opcodes regions inherit, outermost first; a header clears itself and those after it.
_LEVELS = ("global", "master", "group")
#: Every header SFZ (v2 and ARIA) defines; others are not counted as evidence of an SFZ file.
_HEADERS = frozenset({"control", "region", "curve", "effect", "midi", "sample", *_LEVELS})


@dataclass(frozen=True)
class Region:
    """One ``<region>`` with every opcode it inherits, and where it is written (file and line)."""

    opcodes: dict[str, str]
    file: Path
    line: int
    #: ``default_path`` from ``<control>`` when the region was read, as written.
    default_path: str = ""
    #: Semitones added to its key numbers: ``octave_offset * 12 + note_offset`` from ``<control>``.
    note_shift: int = 0


@dataclass
class Instrument:
    """A parsed ``.sfz`` file: its regions in order, and the includes left out with their reasons."""

    path: Path
    regions: list[Region] = field(default_factory=list)
    #: (``file:line #include "x"``, reason) for includes that are missing, cyclic or unreadable.
    problems: list[tuple[str, str]] = field(default_factory=list)
    #: How many SFZ headers the file (with its includes) has; none means it is not SFZ at all.
    headers: int = 0


# --- reading SFZ text -----------------------------------------------------------------------------


def parse_note(value: str) -> int:
    """The MIDI note of an SFZ key value: a number ("36") or a name ("c2", "d#2", "eb2"), C4 being 60.

    Raises ValueError for anything else.

    >>> parse_note("36"), parse_note("c2"), parse_note("F#2"), parse_note("bb-1")
    (36, 36, 42, 10)
    """
    text = value.strip()
    if re.fullmatch(r"[-+]?\d+", text):
        return int(text)
    match = _NOTE_NAME.fullmatch(text)
    if match is None:
        raise ValueError(f"not a note: {value!r}")
    letter, accidental, octave = match.groups()
    return NOTES_PER_OCTAVE * (int(octave) + 1) + _PITCH_CLASSES[letter.lower()] + _ACCIDENTALS[accidental]


def _read_text(path: Path) -> str:
    """The text of SFZ file `path` (UTF-8, else Latin-1); raises ValueError if it is not SFZ text."""
    try:
        size = path.stat().st_size
        if size > MAX_SFZ_BYTES:
            raise ValueError(f"too large for an SFZ file ({size / 2**20:.0f} MiB)")
        data = path.read_bytes()
    except OSError as error:
        raise ValueError(f"unreadable: {error.strerror or error}") from None
    if b"\0" in data:
        raise ValueError("a binary file, not SFZ text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # older kits from Windows editors are in a one-byte code page


def _expand(text: str, defines: dict[str, str]) -> str:
    """`text` with each ``$NAME`` replaced by its ``#define`` (the longest defined name that starts it)."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        for end in range(len(name), 0, -1):
            if name[:end] in defines:
                return defines[name[:end]] + name[end:]
        return match.group(0)

    return _VARIABLE.sub(replace, text) if "$" in text else text


def _opcode_value(text: str, start: int) -> int:
    """Where the value of an opcode starting at `start` ends (see `_VALUE_END`)."""
    line_end = text.find("\n", start)
    line_end = len(text) if line_end < 0 else line_end
    found = _VALUE_END.search(text, start, line_end)
    return found.start() if found else line_end


def _integer(value: str | None) -> int:
    """`value` as an integer, 0 when it is missing or not a number."""
    try:
        return round(float(value)) if value else 0
    except ValueError:
        return 0


class _Builder:
    """Turns the stream of headers and opcodes into regions, applying SFZ's inheritance."""

    def __init__(self) -> None:
        self.control: dict[str, str] = {}
        self.levels: dict[str, dict[str, str]] = {level: {} for level in _LEVELS}
        self.current: dict[str, str] | None = None  # where opcodes go; None under other headers
        self.region_at: tuple[Path, int] | None = None
        self.regions: list[Region] = []
        self.headers = 0

    def header(self, name: str, file: Path, line: int) -> None:
        self.close_region()
        name = name.lower()
        self.headers += name in _HEADERS
        if name == "control":
            self.current = self.control
        elif name in _LEVELS:
            for level in _LEVELS[_LEVELS.index(name) :]:
                self.levels[level] = {}
            self.current = self.levels[name]
        elif name == "region":
            self.current, self.region_at = {}, (file, line)
        else:  # <curve>, <effect>, <midi>, <sample>, unknown ones: nothing a region inherits
            self.current = None

    def opcode(self, name: str, value: str) -> None:
        if self.current is None:
            return
        if name == "key":
            self.current.update(lokey=value, hikey=value, pitch_keycenter=value)
        else:
            self.current[name] = value

    def close_region(self) -> None:
        if self.region_at is None or self.current is None:
            return
        opcodes = {key: value for level in _LEVELS for key, value in self.levels[level].items()}
        opcodes.update(self.current)
        shift = NOTES_PER_OCTAVE * _integer(self.control.get("octave_offset")) + _integer(
            self.control.get("note_offset")
        )
        file, line = self.region_at
        self.regions.append(Region(opcodes, file, line, self.control.get("default_path", ""), shift))
        self.region_at = None


class _Reader:
    """Reads one ``.sfz`` file and its includes into an `Instrument`."""

    def __init__(self, path: Path) -> None:
        self.main = path
        self.defines: dict[str, str] = {}
        self.builder = _Builder()
        self.problems: list[tuple[str, str]] = []

    def read(self, path: Path, stack: tuple[Path, ...]) -> None:
        """Feed the tokens of `path` to the builder; `stack` holds the files including it (real paths)."""
        text = _read_text(path)
        stack = (*stack, path.resolve())
        position, line, counted = 0, 1, 0
        while position < len(text):
            token = _TOKEN.match(text, position)
            assert token is not None  # the `other` branch matches any non-blank character
            position = token.end()
            if token["header"] is not None:
                line += text.count("\n", counted, token.start())
                counted = token.start()
                self.builder.header(token["header"], path, line)
            elif token["opcode"] is not None:
                position = _opcode_value(text, position)
                value = _expand(text[token.end() : position].strip(), self.defines)
                self.builder.opcode(_expand(token["opcode"], self.defines), value)
            elif token["define"] is not None:
                value = token["define_value"]
                comment = _COMMENT_START.search(value)
                if comment:  # leave the comment (maybe a /* block */ running on) to the next token
                    value, position = value[: comment.start()], token.start("define_value") + comment.start()
                self.defines[token["define"]] = _expand(value.strip(), self.defines)
            elif token["include"] is not None or token["bare_include"] is not None:
                line += text.count("\n", counted, token.start())
                counted = token.start()
                reference = _expand(token["include"] or token["bare_include"], self.defines)
                self.include(reference, path, line, stack)

    def include(self, reference: str, including: Path, line: int, stack: tuple[Path, ...]) -> None:
        """Read an ``#include``d file in place, or record why not."""
        item = f"{including.name}:{line} #include {reference!r}"
        relative = reference.replace("\\", "/")
        candidates = [folder / relative for folder in dict.fromkeys((including.parent, self.main.parent))]
        found = next((path for path in map(_existing_file, candidates) if path), None)
        if found is None:
            self.problems.append((item, f"included file missing: {candidates[0]}"))
        elif found.resolve() in stack:
            chain = " -> ".join(path.name for path in (*stack, found))
            self.problems.append((item, f"include cycle ({chain}): not read again"))
        elif len(stack) > MAX_INCLUDE_DEPTH:
            self.problems.append((item, f"includes nested deeper than {MAX_INCLUDE_DEPTH}"))
        else:
            try:
                self.read(found, stack)
            except ValueError as error:
                self.problems.append((item, f"included file {error}"))


def parse_sfz(path: str | os.PathLike[str]) -> Instrument:
    """Parse the SFZ file at `path` with its includes into its regions (opcodes inherited, defines expanded).

    Includes that are missing, cyclic or unreadable are left out and listed in ``problems``. Raises
    ValueError with a one-line reason if the file itself is unreadable, binary or too large.
    """
    path = Path(path).absolute()
    reader = _Reader(path)
    reader.read(path, ())
    reader.builder.close_region()
    return Instrument(path, reader.builder.regions, reader.problems, reader.builder.headers)


# --- classes --------------------------------------------------------------------------------------


def key_range(region: Region) -> tuple[int, int] | None:
    """The lowest and highest key that play `region` (shifted), or None if it sets no key opcode.

    Raises ValueError for a key value that is not a note.
    """
    opcodes = region.opcodes
    if "lokey" not in opcodes and "hikey" not in opcodes:
        return None
    low = parse_note(opcodes.get("lokey", "0")) + region.note_shift
    high = parse_note(opcodes.get("hikey", str(MIDI_MAX))) + region.note_shift
    return low, high


def _single_key(keys: tuple[int, int] | None) -> int | None:
    """The one key of a key range, or None (a range, no keys, or -1: a region no key plays, as for CC triggers)."""
    return keys[0] if keys is not None and keys[0] == keys[1] and 0 <= keys[0] <= MIDI_MAX else None


def _sample_reference(region: Region) -> str:
    """The region's sample path as written (defines expanded), with '/' as separator."""
    return region.opcodes.get("sample", "").replace("\\", "/").strip()


def region_names(region: Region, sfz_stem: str) -> list[str]:
    """The names that classify `region`, most telling first (see the module doc)."""
    default_path = region.default_path.replace("\\", "/")
    sample = PurePosixPath(default_path, _sample_reference(region))
    folders = [part for part in reversed(sample.parent.parts) if part not in ("/", ".", "..")]
    opcodes = region.opcodes
    names = [opcodes.get("region_label", ""), sample.stem, *folders]
    names += [opcodes.get(f"{level}_label", "") for level in reversed(_LEVELS)] + [sfz_stem]
    return [name for name in names if name.strip()]


def _specific_class(names: list[str]) -> str | None:
    """The class `names` give through keywords more specific than generic ones ("snare", not "808").

    `classify_name` reads names after the first only through such keywords, so an empty first name
    makes all of them count that way.
    """
    return classify_name("", *names)


def _is_pitched(region: Region, keys: tuple[int, int] | None) -> bool:
    """Whether `region` plays over more than `MAX_DRUM_KEYS` keys at changing pitch (a melodic sample)."""
    spanned = MIDI_MAX + 1 if keys is None else keys[1] - keys[0] + 1
    return spanned > MAX_DRUM_KEYS and _integer(region.opcodes.get("pitch_keytrack", "100")) != 0


def uses_gm_map(instrument: Instrument) -> bool:
    """Whether the kit's keys follow the General MIDI drum map (rule 4 of the module doc)."""
    agree = disagree = 0
    for region in instrument.regions:
        try:
            note = _single_key(key_range(region))
        except ValueError:
            continue
        named = _specific_class(region_names(region, instrument.path.stem))
        by_note = gm_note_class(note) if note is not None else None
        if named is not None and by_note is not None:
            agree += by_note == named
            disagree += by_note != named
    return agree >= disagree


def region_class(region: Region, sfz_stem: str, gm_map: bool) -> tuple[str | None, str]:
    """The drum class of `region` and what decided it ("name" or "note"), or None and the reason.

    `gm_map` says whether the kit's keys follow the General MIDI drum map; see the module doc for the
    rule. Raises ValueError for a key value that is not a note.
    """
    keys = key_range(region)
    if _is_pitched(region, keys):
        spanned = MIDI_MAX + 1 if keys is None else keys[1] - keys[0] + 1
        return None, f"spans {spanned} keys at changing pitch: a melodic instrument, not a drum"
    names = region_names(region, sfz_stem)
    specific = _specific_class(names)
    if specific is not None:
        return specific, "name"
    named = classify_name(*names)
    reason = unsorted_reason(names) if named is None else ""
    if reason == NON_DRUM_REASON:
        return None, reason
    note = _single_key(keys)
    if gm_map and note is not None and gm_note_class(note) is not None:
        return gm_note_class(note), "note"
    if named is not None:
        return named, "name"
    if reason == NO_CLASS_REASON:
        if note is None:
            reason += ", and it plays on no single key"
        elif gm_note_class(note) is None:
            reason += f", and key {note} is no General MIDI drum"
        else:
            reason += f", and this kit's keys do not follow the General MIDI drum map (key {note})"
    return None, reason


# --- samples and licenses -------------------------------------------------------------------------


def _existing_file(path: Path) -> Path | None:
    """`path` if it is a file, else the file whose path matches it ignoring case, else None."""
    try:
        if path.is_file():
            return path
        current = Path(path.anchor)
        for part in path.relative_to(path.anchor).parts:
            if part in (".", "..") or (current / part).exists():
                current = current / part
                continue
            folded = part.casefold()
            matches = [entry for entry in current.iterdir() if entry.name.casefold() == folded]
            if not matches:
                return None
            current = matches[0]
        return current if current.is_file() else None
    except OSError:  # a name too long, a folder not readable
        return None


def sample_path(region: Region, main: Path) -> Path:
    """Where the sample of `region` is (see the module doc); raises ValueError saying why it cannot be used."""
    reference = _sample_reference(region)
    if not reference:
        raise ValueError("region has no sample")
    if reference.startswith("*"):
        raise ValueError(f"a built-in generator ({reference}), not a sample file")
    default_path = region.default_path.replace("\\", "/")
    folders = dict.fromkeys((main.parent, region.file.parent))
    candidates = [folder / default_path / reference for folder in folders]
    found = next((path for path in map(_existing_file, candidates) if path), None)
    if found is None:
        raise ValueError(f"sample file missing: {os.path.normpath(candidates[0])}")
    if found.suffix.lower() not in AUDIO_EXTENSIONS:
        raise ValueError(f"not an audio file ({found.suffix or 'no extension'})")
    try:
        sf.info(str(found))
    except (sf.LibsndfileError, RuntimeError) as error:
        raise ValueError(f"unreadable audio: {error}") from None
    return found


def license_note(sfz: Path, top: Path) -> str:
    """Where the kit's license is told: the first license or readme file beside `sfz`, or above it up to `top`.

    Returns "see <file>" (the path relative to the folder of `sfz`), or "unknown" when there is none.
    """
    folders = [sfz.parent, *(folder for folder in sfz.parent.parents if top in (folder, *folder.parents))]
    for folder in folders:
        entries = sorted(entry for entry in folder.iterdir() if entry.is_file())
        for prefix in LICENSE_FILE_PREFIXES:
            for entry in entries:
                if entry.name.casefold().startswith(prefix):
                    return f"see {os.path.relpath(entry, sfz.parent)}"
    return UNKNOWN_LICENSE


# --- importing ------------------------------------------------------------------------------------


def _sfz_files(source: Path) -> list[Path]:
    """`source` itself if it is a file, else the ``.sfz`` files under it (any case), sorted."""
    if source.is_file():
        return [source.absolute()]
    return sorted(path.absolute() for path in source.rglob("*") if path.suffix.lower() == SFZ_SUFFIX and path.is_file())


@dataclass
class _Kit:
    """One parsed ``.sfz`` file being imported, with what every row of it shares."""

    instrument: Instrument
    stem: str
    source: str
    license: str
    gm_map: bool
    top: Path

    def display(self, path: Path) -> str:
        """`path` relative to the import's source folder, for reports."""
        try:
            return path.relative_to(self.top).as_posix()
        except ValueError:
            return str(path)


def _velocity(opcodes: dict[str, str]) -> int | None:
    """The MIDI velocity (0..127) a region stands for: its ``hivel``, else the middle of ``lovel``..127, else None."""
    if opcodes.get("hivel"):
        velocity = _integer(opcodes["hivel"])
    elif opcodes.get("lovel"):
        velocity = round((_integer(opcodes["lovel"]) + MIDI_MAX) / 2)
    else:
        return None
    return min(max(velocity, 0), MIDI_MAX)


def _instrument_name(opcodes: dict[str, str], sample_stem: str) -> str:
    """The region's label, else its group's, else the sample's stem; labels without a letter ("1") are skipped."""
    labels = (opcodes.get("region_label", ""), opcodes.get("group_label", ""))
    return next((label for label in labels if any(character.isalpha() for character in label)), sample_stem)


def _import_region(
    writer: BankWriter,
    kit: _Kit,
    region: Region,
    imported: dict[Path, str],
    taken: dict[str, set[str]],
    report: ImportReport,
) -> bool:
    """Copy the sample of `region` into the bank unless it is left out (then say why); True if copied."""
    item = f"{kit.display(region.file)}:{region.line} ({region.opcodes.get('sample', 'no sample')})"
    try:
        path = sample_path(region, kit.instrument.path)
        label, basis = region_class(region, kit.instrument.path.stem, kit.gm_map)
        keys = key_range(region)
    except ValueError as error:
        report.skipped.append((item, str(error)))
        return False
    if path.resolve() in imported:
        report.skipped.append((item, f"same sample as {imported[path.resolve()]}: imported once"))
        return False
    if label is None:
        report.unsorted.append((item, basis))
        return False
    imported[path.resolve()] = item
    note = _single_key(keys)
    opcodes = region.opcodes
    bank_stem = unique_name(f"{kit.stem}__{safe_name(path.stem)}", taken.setdefault(label, set()))
    writer.copy_file(
        label,
        f"{bank_stem}{path.suffix.lower()}",
        path,
        source=kit.source,
        kit=kit.instrument.path.stem,
        instrument=_instrument_name(opcodes, path.stem),
        license=kit.license,
        note=note,
        velocity=_velocity(opcodes),
        group=f"{kit.stem}/{note if note is not None else safe_name(path.stem)}",
        keys="" if keys is None else f"{keys[0]}-{keys[1]}",
        class_from=basis,
    )
    report.counts[label] += 1
    return True


def import_sfz(
    out: str | os.PathLike[str],
    source: str | os.PathLike[str],
    progress: Progress | None = None,
) -> ImportReport:
    """Import the SFZ kit `source` (one ``.sfz`` file, or a folder searched recursively) into the bank at `out`.

    Each region's sample is copied unchanged, once, to ``out/<class>/<kit>__<sample stem>.<ext>``
    (the class by the module doc's rule) with a manifest row: source (the Debian package that
    installed the file, else "sfz"), kit (the ``.sfz`` stem), instrument (the region or group label
    with a letter in it, else the sample's stem), license ("see LICENSE.txt" for a license or readme
    file found beside it, the Debian copyright's, or "unknown"), note (its key, when it is one),
    velocity (``hivel``, else the middle of ``lovel``..127, MIDI 0..127), group
    ``<kit>/<note or sample stem>`` so a key's velocity layers share a split, keys ("lo-hi") and
    class_from ("name" or "note"). Unreadable, binary or empty ``.sfz`` files, broken includes,
    missing samples and repeated samples are listed in ``report.skipped`` with the reason; regions
    without a class in ``report.unsorted``. ``out/LICENSES.md`` is rewritten; rerunning updates the
    bank in place. `progress(done, total)` is called after each region.

    Raises DkvaeError if `source` is missing or holds no ``.sfz`` file.
    """
    source_path = Path(source).expanduser()
    if not source_path.exists():
        raise DkvaeError(f"SFZ file or folder not found: {source_path}")
    files = _sfz_files(source_path)
    if not files:
        raise DkvaeError(f"No SFZ files (*{SFZ_SUFFIX}) in {source_path}")
    top = files[0].parent if source_path.is_file() else source_path.absolute()

    report = ImportReport()
    instruments: list[Instrument] = []
    for file in files:
        shown = os.path.relpath(file, top)
        try:
            instrument = parse_sfz(file)
        except ValueError as error:
            report.skipped.append((shown, str(error)))
            continue
        report.skipped += instrument.problems
        if instrument.headers == 0:
            report.skipped.append((shown, "not an SFZ file (no <region> or <group> headers)"))
        elif not instrument.regions:
            report.skipped.append((shown, "no <region> in it"))
        else:
            instruments.append(instrument)

    packages = installed_by(instrument.path for instrument in instruments)
    total = sum(len(instrument.regions) for instrument in instruments)
    done = 0
    imported: dict[Path, str] = {}  # real path of a sample -> the region that imported it
    taken: dict[str, set[str]] = {}  # class -> bank file stems used by this import
    kit_stems: set[str] = set()
    with BankWriter(out) as writer:
        for instrument in instruments:
            installed = packages.get(instrument.path)
            kit = _Kit(
                instrument=instrument,
                stem=unique_name(safe_name(instrument.path.stem), kit_stems),
                source=installed[0] if installed else OTHER_SOURCE,
                license=(debian_license(*installed) or UNKNOWN_LICENSE) if installed else license_note(instrument.path, top),
                gm_map=uses_gm_map(instrument),
                top=top,
            )
            copied = 0
            for region in instrument.regions:
                copied += _import_region(writer, kit, region, imported, taken, report)
                done += 1
                if progress:
                    progress(done, total)
            report.kits += int(copied > 0)
    write_licenses(Path(out))
    return report
