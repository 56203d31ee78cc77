"""What an import did: the report every importer returns and the CLI prints."""

from __future__ import annotations

from dataclasses import dataclass, field

from dkvae.core.classes import CLASSES


@dataclass
class ImportReport:
    """What an import did: files per class, kits imported, and each item left out with the reason."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CLASSES, 0))
    kits: int = 0
    #: (instrument, reason) for instruments whose names map to no drum class.
    unsorted: list[tuple[str, str]] = field(default_factory=list)
    #: (item, reason) for everything else left out: kit folders, archives, layers ("kit/instrument/file").
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Number of files imported."""
        return sum(self.counts.values())
