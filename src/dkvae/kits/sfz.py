"""Write a `Kit` as an SFZ instrument: ``kit.sfz`` plus its samples, for sfizz, Sforzando and other SFZ players.

One ``<group>`` per pad on its General MIDI key, one ``<region>`` per round robin, every sound a
one-shot. Chokes use SFZ's ``group``/``off_by``: the pads that choke a pad share a group number,
so the closed and pedal hats cut the open hat off without cutting each other.
"""

from __future__ import annotations

from pathlib import Path

from dkvae.core.atomic import write_text
from dkvae.kits.kit import Kit, write_samples

SFZ_NAME = "kit.sfz"
#: How a choked sound stops: at once, as a real hi-hat does when it closes.
OFF_MODE = "fast"


def _one_line(text: str) -> str:
    """`text` with line breaks and other control characters turned to single spaces, safe in a ``//`` comment."""
    return " ".join("".join(character if character.isprintable() else " " for character in text).split())


def _choke_opcodes(kit: Kit) -> dict[str, dict[str, str]]:
    """The ``group``, ``off_by`` and ``off_mode`` opcodes of each pad that chokes or is choked, by pad name.

    The pads that choke one pad (its `choked_by`) share one group number; the choked pad gets a number
    of its own and ``off_by`` theirs. Raises ValueError if a pad would need two numbers (SFZ gives a
    region one group).
    """
    choked = [kit_pad.pad for kit_pad in kit.pads if kit_pad.pad.choked_by]
    choker_sets = list(dict.fromkeys(frozenset(pad.choked_by) for pad in choked))
    numbers: dict[str, int] = {}
    for number, chokers in enumerate(choker_sets, start=1):
        for name in sorted(chokers):
            if numbers.setdefault(name, number) != number:
                raise ValueError(f"pad {name!r} chokes two different sets of pads; an SFZ region has one group")
    next_number = len(choker_sets) + 1
    for pad in choked:
        if pad.name not in numbers:
            numbers[pad.name], next_number = next_number, next_number + 1
    opcodes = {name: {"group": str(number)} for name, number in numbers.items()}
    for pad in choked:
        opcodes[pad.name].update(off_by=str(numbers[pad.choked_by[0]]), off_mode=OFF_MODE)
    return opcodes


def _sfz_text(kit: Kit, samples: dict[str, list[str]], bit_depth: int) -> str:
    """The text of the SFZ file for `kit` whose samples (paths relative to the file, per pad) are `samples`."""
    lines = [
        f"// {_one_line(kit.name)}",
        f"// made by dkvae; author: {_one_line(kit.author)}; license: {_one_line(kit.license)}",
        f"// {len(kit.pads)} pads on General MIDI notes; {bit_depth}-bit WAV samples at {kit.sample_rate} Hz",
        "",
        "<global>",
        "loop_mode=one_shot",
    ]
    chokes = _choke_opcodes(kit)
    for kit_pad in kit.pads:
        pad = kit_pad.pad
        note = str(pad.note)
        lines += ["", "<group>", f"group_label={_one_line(pad.label)}"]
        lines += [f"lokey={note}", f"hikey={note}", f"pitch_keycenter={note}"]
        lines += [f"{opcode}={value}" for opcode, value in chokes.get(pad.name, {}).items()]
        paths = samples[pad.name]
        round_robin = len(paths) > 1
        if round_robin:
            lines.append(f"seq_length={len(paths)}")
        for position, path in enumerate(paths, start=1):
            lines += ["<region>", f"sample={path}"]
            if round_robin:
                lines.append(f"seq_position={position}")
    return "\n".join(lines) + "\n"


def write_sfz(kit: Kit, folder: Path, bit_depth: int = 16, samples: dict[str, list[str]] | None = None) -> Path:
    """Write `kit` as ``folder/kit.sfz`` (UTF-8) with its samples in ``folder/samples/``; returns the SFZ path.

    The caller makes `folder` a fresh temporary folder and renames it when this returns, so a kit is
    never seen half written.

    `samples` is what `write_samples` returned when the caller already wrote them into `folder` (several
    formats sharing one ``samples/``).
    """
    if samples is None:
        samples = write_samples(kit, folder, bit_depth)
    path = Path(folder) / SFZ_NAME
    write_text(path, _sfz_text(kit, samples, bit_depth))
    return path
