"""Drum classes and the one place that maps sound names and General MIDI notes to them.

Names are matched by keywords. A name is split into lower-case words at separators, camelCase and
digit boundaries ("HatClosed" -> hat, closed; "BD_808" -> bd, 808), and a run-together word made only
of known words is split too ("hhclosed" -> hh, closed). Each keyword has a specificity; the most
specific keywords present decide, and if they point at two classes the name is ambiguous. A name
with a non-drum word (guitar, piano, ...) never maps to a class. Nothing is guessed: no keyword, no
class.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from enum import IntEnum
from functools import lru_cache

#: The drum classes dkvae knows, in a fixed order (the index is the class id).
CLASSES: tuple[str, ...] = ("kick", "snare", "hihat", "tom", "cymbal", "clap", "perc")


class Specificity(IntEnum):
    """How strongly a keyword points at its class; the highest level present in a name decides."""

    GENERIC = 1  # "808", "bell", "snap": true only when nothing better is said
    ABBREVIATION = 2  # "bd", "sd", "hh", "oh", "cy", "rim", "perc": short, or a category word
    WORD = 3  # "kick", "snare", "hat", "crash", "conga"
    PHRASE = 4  # two words that name one thing: "bass drum", "side stick", "ride bell"


#: Keywords per class and specificity. Plurals ("claps") are found by dropping a final "s".
_KEYWORDS: dict[Specificity, dict[str, tuple[str, ...]]] = {
    Specificity.PHRASE: {
        "kick": ("bassdrum", "kickdrum"),
        "snare": ("snaredrum", "sidestick", "crossstick"),
        "hihat": ("hihat", "highhat"),
        "tom": ("floortom", "racktom", "hitom", "lowtom", "midtom", "tomtom"),
        "cymbal": ("ridebell", "ridecymbal", "crashcymbal", "splashcymbal", "chinacymbal"),
        "clap": ("handclap", "fingersnap"),
        "perc": ("cowbell", "woodblock", "vibraslap", "rainstick", "framedrum"),
    },
    Specificity.WORD: {
        "kick": ("kick", "kik"),
        "snare": ("snare", "rimshot"),
        "hihat": ("hat",),
        "tom": ("tom",),
        "cymbal": ("crash", "ride", "cymbal", "splash", "china"),
        "clap": ("clap",),
        "perc": (
            "shaker", "conga", "bongo", "clave", "tamb", "tambourine", "cajon", "maraca", "guiro",
            "agogo", "triangle", "timbale", "timbal", "djembe", "dunun", "dununba", "sangban",
            "kenkeni", "cabasa", "afuche", "whistle", "quijada", "castanet", "cuica", "surdo",
            "tabla", "darbuka", "doumbek", "udu", "shekere", "tumba", "quinto", "gong", "chime",
            "jingle", "sleighbell", "guira", "caxixi", "pandeiro", "tamborim", "repinique",
            "ganza", "cencerro", "block",
        ),
    },
    Specificity.ABBREVIATION: {
        "kick": ("bd",),
        "snare": ("sd", "snr", "sn", "rim", "stick", "stk"),
        "hihat": ("hh", "ch", "oh", "chh", "ohh", "phh", "hhc", "hho", "hhp"),
        "tom": ("tm",),
        "cymbal": ("cy", "cym"),
        "clap": ("cp", "clp"),
        "perc": ("perc", "percussion", "cow", "cga", "cab", "cui"),
    },
    Specificity.GENERIC: {
        "kick": ("808",),
        "snare": (),
        "hihat": (),
        "tom": (),
        "cymbal": ("bell",),
        "clap": ("snap",),
        "perc": (),
    },
}

#: Words that mark a sound as not a drum at all (a strummed guitar, a piano note).
NON_DRUM_WORDS: frozenset[str] = frozenset(
    {
        "guitar", "strum", "piano", "vocal", "vox", "chord", "violin", "cello", "organ",
        "flute", "sax", "trumpet", "brass", "string", "choir", "harp", "banjo", "ukulele",
    }
)

#: Words that often appear beside keywords; they let run-together words like "hhclosed" be split.
_MODIFIERS: frozenset[str] = frozenset(
    {
        "closed", "close", "open", "opened", "semi", "pedal", "foot", "floor", "rack", "low", "lo",
        "mid", "high", "hi", "side", "hand", "finger", "drum", "cross", "cow", "wood",
        "roll", "shot", "soft", "hard", "dry", "wet", "long", "short", "choke", "cup", "bow",
        "edge", "tip", "ring", "free", "frame", "sleigh", "rain", "vibra",
    }
)

#: Marks a name as not a drum; it decides like a class does, so classify_name gives None.
_NON_DRUM = "<non-drum>"

#: "bass" alone is a bass synth, not a kick: it outranks "808" ("808 Bass") but not "djembe" or
#: "bass drum".
_NON_DRUM_HINTS: dict[str, Specificity] = {"bass": Specificity.ABBREVIATION}

#: Every keyword, mapped to its class (or the non-drum marker) and specificity.
_KEYWORD_INDEX: dict[str, tuple[str, Specificity]] = {
    **{
        keyword: (label, specificity)
        for specificity, per_class in _KEYWORDS.items()
        for label, keywords in per_class.items()
        for keyword in keywords
    },
    **{word: (_NON_DRUM, specificity) for word, specificity in _NON_DRUM_HINTS.items()},
}

_VOCABULARY: frozenset[str] = frozenset(_KEYWORD_INDEX) | _MODIFIERS | NON_DRUM_WORDS

#: Parts shorter than this are never split off a run-together word ("a" + "tom" is not "atom").
_MIN_PART_LENGTH = 2
#: Longer words are not split at all: they are not run-together drum names, and splitting is quadratic.
_MAX_SPLIT_LENGTH = 32

#: General MIDI percussion (channel 10) notes mapped to our classes.
GM_PERCUSSION: dict[int, str] = {
    35: "kick", 36: "kick",  # acoustic bass drum, bass drum 1
    37: "snare", 38: "snare", 40: "snare",  # side stick, acoustic snare, electric snare
    39: "clap",  # hand clap
    42: "hihat", 44: "hihat", 46: "hihat",  # closed, pedal, open hi-hat
    41: "tom", 43: "tom", 45: "tom", 47: "tom", 48: "tom", 50: "tom",  # low floor tom .. high tom
    49: "cymbal", 51: "cymbal", 52: "cymbal", 53: "cymbal",  # crash 1, ride 1, chinese, ride bell
    55: "cymbal", 57: "cymbal", 59: "cymbal",  # splash, crash 2, ride 2
    54: "perc", 56: "perc", 58: "perc",  # tambourine, cowbell, vibraslap
    **{note: "perc" for note in range(60, 82)},  # bongos, congas, timbales .. open triangle
}


def gm_note_class(note: int) -> str | None:
    """The class of General MIDI percussion note `note` (35..81), or None outside that range."""
    return GM_PERCUSSION.get(note)


def _split_words(text: str) -> list[str]:
    """Split `text` into lower-case words at non-alphanumerics, camelCase and letter/digit changes."""
    words: list[str] = []
    current = ""
    for index, character in enumerate(text):
        if not character.isalnum():
            boundary = True
        elif not current:
            boundary = False
        else:
            previous = current[-1]
            following = text[index + 1] if index + 1 < len(text) else ""
            boundary = (
                previous.isdigit() != character.isdigit()
                or (previous.islower() and character.isupper())
                or (previous.isupper() and character.isupper() and following.islower())
            )
        if boundary and current:
            words.append(current.casefold())
            current = ""
        if character.isalnum():
            current += character
    if current:
        words.append(current.casefold())
    return words


@lru_cache(maxsize=4096)
def _segment(word: str) -> tuple[str, ...]:
    """`word` as known vocabulary words ("hhclosed" -> ("hh", "closed")), or ``(word,)`` if it is not one."""
    if word in _VOCABULARY:
        return (word,)
    if word.endswith("s") and word[:-1] in _VOCABULARY:
        return (word[:-1],)
    if len(word) > _MAX_SPLIT_LENGTH:
        return (word,)
    # best[i]: the shortest split of word[:i] into vocabulary words, if any.
    best: list[tuple[str, ...] | None] = [()] + [None] * len(word)
    for end in range(_MIN_PART_LENGTH, len(word) + 1):
        for start in range(end - _MIN_PART_LENGTH + 1):
            prefix = best[start]
            part = word[start:end]
            if prefix is not None and part in _VOCABULARY:
                candidate = prefix + (part,)
                if best[end] is None or len(candidate) < len(best[end]):
                    best[end] = candidate
    return best[-1] or (word,)


def name_words(name: str) -> list[str]:
    """The normalized words of `name` that keyword matching looks at (run-together words split)."""
    return [part for word in _split_words(name) for part in _segment(word)]


def is_non_drum_name(name: str) -> bool:
    """Whether `name` contains a word that marks a non-drum sound or kit (guitar, piano, ...)."""
    return any(word in NON_DRUM_WORDS for word in name_words(name))


def _classes_at_top_specificity(name: str, least: Specificity = Specificity.GENERIC) -> set[str]:
    """The classes named by the most specific keywords (of at least `least`) in `name`; may hold the non-drum marker."""
    words = name_words(name)
    if any(word in NON_DRUM_WORDS for word in words):
        return {_NON_DRUM}
    candidates = words + [first + second for first, second in itertools.pairwise(words)]
    matches = [_KEYWORD_INDEX[word] for word in candidates if word in _KEYWORD_INDEX]
    matches = [(label, specificity) for label, specificity in matches if specificity >= least]
    if not matches:
        return set()
    top = max(specificity for _, specificity in matches)
    return {label for label, specificity in matches if specificity == top}


def classify_name(*names: str) -> str | None:
    """The drum class named by `names`, or None when no name says or the deciding name is unclear.

    Names are tried in order (e.g. instrument name, then file name): the first one that mentions any
    keyword decides, and later ones are consulted only if earlier ones mention none. Later names
    (folders, fallbacks) count only through keywords more specific than a generic one: a folder
    "808 Kit" holds every kind of 808 sound, so it does not make its files kicks. A deciding name
    naming two classes at its top specificity ("Kick Snare"), or containing a non-drum word
    ("Kick Guitar"), gives None.

    >>> classify_name("Sabian Hat Closed"), classify_name("808 Clap"), classify_name("clean_soft_808")
    ('hihat', 'clap', 'kick')
    >>> classify_name("Drum 1", "EE_Kick_Lite_1.flac")
    'kick'
    """
    for position, name in enumerate(names):
        found = _classes_at_top_specificity(name, Specificity.GENERIC if position == 0 else Specificity.ABBREVIATION)
        if not found:
            continue
        if len(found) == 1 and _NON_DRUM not in found:
            return found.pop()
        return None
    return None


def match_class_name(name: str, known: Sequence[str]) -> str | None:
    """The one of the class names `known` (a model's) that a user's `name` means, or None.

    A known name matches in any case; any other name matches the drum class its keywords name, as a
    file name would (`classify_name`: "hh", "hat", "bd", "sd", "cym", "perc"), when that class is known.

    >>> match_class_name("Snare", CLASSES), match_class_name("hh", CLASSES), match_class_name("bd", ["snare"])
    ('snare', 'hihat', None)
    """
    if name in known:
        return name
    by_case = {label.casefold(): label for label in reversed(known)}  # the first of names that differ in case
    if name.casefold() in by_case:
        return by_case[name.casefold()]
    drum_class = classify_name(name)
    return by_case.get(drum_class) if drum_class is not None else None
