"""File names made safe from any text: one place, so no name a file or model supplies can leave its folder."""

from __future__ import annotations

import re
import unicodedata


def safe_name(text: str) -> str:
    """A file-name-safe version of `text`: keeps letters (any script), digits, '-', '_' and '.'."""
    text = unicodedata.normalize("NFC", text).strip()
    text = re.sub(r"[^\w.\-]+", "_", text, flags=re.UNICODE).strip("._")
    return text or "unnamed"


def unique_name(stem: str, taken: set[str]) -> str:
    """`stem`, or `stem_2`, `stem_3`, ... whichever is not in `taken` yet (and take it)."""
    candidate, number = stem, 1
    while candidate in taken:
        number += 1
        candidate = f"{stem}_{number}"
    taken.add(candidate)
    return candidate
