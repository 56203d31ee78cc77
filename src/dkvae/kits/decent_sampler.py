"""Write a `Kit` for Decent Sampler: a ``.dspreset`` (XML) beside its samples, or one zipped ``.dslibrary``.

One ``<group>`` per pad, tagged with the pad's name, one ``<sample>`` per round robin played as a
one-shot (no amplitude envelope, so a short MIDI note does not cut the hit). Chokes use tags: the
open hat's group is ``silencedByTags`` the closed and pedal hats. Attribute names follow the Decent
Sampler developer's guide (https://decentsampler-developers-guide.readthedocs.io).
"""

from __future__ import annotations

import os
import re
import tempfile
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

from dkvae.core.atomic import atomic_path, write_text
from dkvae.core.names import safe_name
from dkvae.kits.kit import Kit, write_samples

PRESET_SUFFIX = ".dspreset"
#: The optional file naming a library for Decent Sampler's browser, at the top of the library folder.
LIBRARY_INFO_NAME = "DSLibraryInfo.xml"
MIN_VERSION = "1.0.0"
#: How a choked sound stops: at once, as a real hi-hat does when it closes.
SILENCING_MODE = "fast"
#: The size of the preset's window in Decent Sampler, in pixels (its guide's recommended size).
UI_WIDTH, UI_HEIGHT = 812, 375
UI_MARGIN, UI_LINE_HEIGHT = 10, 30
#: Every MIDI note-on velocity plays every sample (velocity 0 is a note-off).
LOWEST_VELOCITY, HIGHEST_VELOCITY = 1, 127
#: Characters XML 1.0 cannot hold, even escaped (ElementTree would write them and break the file).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_safe(text: str) -> str:
    """`text` (a kit's name, author, ...) without the characters an XML document cannot hold."""
    return _NOT_XML.sub("", text)


def _xml_text(root: ET.Element) -> str:
    """`root` as an indented UTF-8 XML document with its declaration."""
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _preset(kit: Kit, samples: dict[str, list[str]]) -> ET.Element:
    """The ``<DecentSampler>`` element of `kit`, whose samples (paths relative to the preset, per pad) are `samples`."""
    root = ET.Element("DecentSampler", minVersion=MIN_VERSION)
    tab = ET.SubElement(ET.SubElement(root, "ui", width=str(UI_WIDTH), height=str(UI_HEIGHT)), "tab", name="main")
    ET.SubElement(
        tab,
        "label",
        x=str(UI_MARGIN),
        y=str(UI_MARGIN),
        width=str(UI_WIDTH - 2 * UI_MARGIN),
        height=str(UI_LINE_HEIGHT),
        text=_xml_safe(f"{kit.name} (made by dkvae; author: {kit.author}; license: {kit.license})"),
    )
    groups = ET.SubElement(root, "groups")
    for kit_pad in kit.pads:
        pad = kit_pad.pad
        group = ET.SubElement(groups, "group", name=_xml_safe(pad.label), tags=pad.name)
        if pad.choked_by:
            group.set("silencedByTags", ",".join(pad.choked_by))
            group.set("silencingMode", SILENCING_MODE)
        paths = samples[pad.name]
        round_robin = len(paths) > 1
        if round_robin:
            group.set("seqMode", "round_robin")
            group.set("seqLength", str(len(paths)))
        note = str(pad.note)
        for position, path in enumerate(paths, start=1):
            sample = {"path": path, "rootNote": note, "loNote": note, "hiNote": note, "trigger": "attack"}
            sample.update(loVel=str(LOWEST_VELOCITY), hiVel=str(HIGHEST_VELOCITY), ampEnvEnabled="false")
            if round_robin:
                sample["seqPosition"] = str(position)
            ET.SubElement(group, "sample", sample)
    return root


def write_decent_sampler(
    kit: Kit, folder: Path, bit_depth: int = 16, samples: dict[str, list[str]] | None = None
) -> Path:
    """Write `kit` as ``folder/<kit name>.dspreset`` with its samples in ``folder/samples/``; returns the preset path.

    The caller makes `folder` a fresh temporary folder and renames it when this returns, so a kit is
    never seen half written.

    `samples` is what `write_samples` returned when the caller already wrote them into `folder` (several
    formats sharing one ``samples/``).
    """
    if samples is None:
        samples = write_samples(kit, folder, bit_depth)
    path = Path(folder) / (safe_name(kit.name) + PRESET_SUFFIX)
    write_text(path, _xml_text(_preset(kit, samples)))
    return path


def write_decent_library(kit: Kit, path: str | os.PathLike[str], bit_depth: int = 16) -> Path:
    """Write `kit` as one ``.dslibrary`` file at `path`: a zip of ``<kit name>/`` holding the preset and samples.

    The folder inside is what `write_decent_sampler` writes, plus a ``DSLibraryInfo.xml`` giving the
    kit's full name. The zip is written under a temporary name beside `path` and renamed, so an
    interrupted write leaves `path` as it was.
    """
    top = safe_name(kit.name)
    with tempfile.TemporaryDirectory(prefix="dkvae-dslibrary-") as scratch:
        folder = Path(scratch)
        write_decent_sampler(kit, folder, bit_depth)
        info = ET.Element("DecentSamplerLibraryInfo", name=_xml_safe(kit.name))
        write_text(folder / LIBRARY_INFO_NAME, _xml_text(info))
        with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
            for file in sorted(folder.rglob("*")):
                if file.is_file():
                    archive.write(file, f"{top}/{file.relative_to(folder).as_posix()}")
    return Path(path)
