"""The server's sounds: rendered once by (model, class, latent), kept in a byte-bounded cache, recalled by id.

A sound's id is a digest of its model, class (or class blend) and latent bytes, so the same recipe is
the same sound whoever asks. The audio cache is bounded in bytes (least recently used goes first);
the recipes of the session's sounds are kept longer (they are small), so an evicted sound is
rendered again from its recipe when asked for.
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
import soundfile as sf

from dkvae.inference.generation import Recipe, sidecar_document
from dkvae.inference.machine import DrumMachine, trim_tail
from dkvae.sound.wav import WAV_SUBTYPES
from dkvae.web.pool import WorkerPool

#: Audio kept in memory, in bytes of float32 samples (about 500 trimmed sounds).
CACHE_BYTES = 64 * 2**20
#: Recipes of the session's sounds kept for recall, history and the sound map.
HISTORY_SIZE = 2000
#: Bit depth of the WAV bytes sent to the page.
WEB_BIT_DEPTH = 16


@dataclass(frozen=True)
class Sound:
    """A sound's id and recipe; its audio lives in the cache."""

    id: str
    recipe: Recipe

    @property
    def classes(self) -> str | np.ndarray:
        """What `DrumMachine.render` takes: the instrument, or the class blend."""
        if self.recipe.class_weights is None:
            return self.recipe.instrument
        return np.asarray(self.recipe.class_weights, np.float32)


class AudioCache:
    """Finished sounds ``(samples,)`` float32 by id, least recently used dropped beyond `capacity` bytes (thread-safe)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> np.ndarray | None:
        """The sound under `key`, or None; marks it recently used."""
        with self._lock:
            audio = self._items.get(key)
            if audio is not None:
                self._items.move_to_end(key)
            return audio

    def put(self, key: str, audio: np.ndarray) -> None:
        """Keep `audio` under `key`, dropping the least recently used sounds beyond the capacity."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return
            self._items[key] = audio
            self._bytes += audio.nbytes
            while self._bytes > self.capacity and len(self._items) > 1:
                _, dropped = self._items.popitem(last=False)
                self._bytes -= dropped.nbytes


def sound_id(machine: DrumMachine, classes: str | np.ndarray, latent: np.ndarray) -> str:
    """The id of the sound `machine` renders for `classes` and `latent` ``(latent_dim,)``: 16 hex digits."""
    digest = hashlib.blake2b(digest_size=8)
    digest.update(machine.model_id.encode())
    digest.update(
        classes.encode() if isinstance(classes, str) else b"blend:" + np.asarray(classes, np.float32).tobytes()
    )
    digest.update(np.asarray(latent, np.float32).tobytes())
    return digest.hexdigest()


def wav_bytes(audio: np.ndarray, sample_rate: int) -> bytes:
    """A sound ``(samples,)`` as the bytes of a WAV file (`WEB_BIT_DEPTH`)."""
    buffer = io.BytesIO()
    sf.write(buffer, audio, sample_rate, subtype=WAV_SUBTYPES[WEB_BIT_DEPTH], format="WAV")
    return buffer.getvalue()


class SoundService:
    """Renders sounds with one `DrumMachine` on a bounded pool, caches them, and remembers the session's recipes."""

    def __init__(self, machine: DrumMachine, pool: WorkerPool, cache_bytes: int = CACHE_BYTES) -> None:
        self.machine = machine
        self.pool = pool
        self.cache = AudioCache(cache_bytes)
        self._history: OrderedDict[str, Sound] = OrderedDict()
        self._lock = threading.Lock()

    def describe(self, recipe: Recipe) -> Sound:
        """The sound a recipe makes (not rendered yet), remembered in the session's history."""
        classes = recipe.instrument if recipe.class_weights is None else np.asarray(recipe.class_weights, np.float32)
        sound = Sound(sound_id(self.machine, classes, np.asarray(recipe.latent, np.float32)), recipe)
        with self._lock:
            sound = self._history.setdefault(sound.id, sound)
            self._history.move_to_end(sound.id)
            while len(self._history) > HISTORY_SIZE:
                self._history.popitem(last=False)
        return sound

    def recall(self, sound_id: str) -> Sound | None:
        """A sound of this session by id, or None."""
        with self._lock:
            return self._history.get(sound_id)

    def history(self, limit: int) -> list[Sound]:
        """The session's most recent `limit` sounds, newest first."""
        with self._lock:
            return list(reversed(self._history.values()))[:limit]

    def keep(self, recipe: Recipe, audio: np.ndarray) -> Sound:
        """Adopt a sound rendered elsewhere (a kit's): its recipe and its trimmed audio ``(samples,)``."""
        sound = self.describe(recipe)
        self.cache.put(sound.id, audio)
        return sound

    def render_now(self, sounds: list[Sound]) -> list[np.ndarray]:
        """The audio of `sounds`, rendering those not cached (blocking: call it on a worker)."""
        missing = [sound for sound in sounds if self.cache.get(sound.id) is None]
        for sound in missing:
            audio = self.machine.render(np.asarray(sound.recipe.latent, np.float32)[None], sound.classes)[0]
            self.cache.put(sound.id, trim_tail(audio))
        return [self._audio(sound) for sound in sounds]

    def _audio(self, sound: Sound) -> np.ndarray:
        audio = self.cache.get(sound.id)
        return audio if audio is not None else self.render_now([sound])[0]

    async def ensure(self, recipes: list[Recipe]) -> list[Sound]:
        """The sounds of `recipes`, rendered on the pool unless all are cached (then at once)."""
        sounds = [self.describe(recipe) for recipe in recipes]
        if any(self.cache.get(sound.id) is None for sound in sounds):
            await self.pool.run(self.render_now, sounds)
        return sounds

    async def audio(self, sounds: list[Sound]) -> list[np.ndarray]:
        """The audio of `sounds` ``(samples,)`` each, rendered on the pool where not cached."""
        cached = [self.cache.get(sound.id) for sound in sounds]
        if all(audio is not None for audio in cached):
            return cached  # type: ignore[return-value]
        return await self.pool.run(self.render_now, sounds)

    def samples(self, sound: Sound) -> int:
        """Length of a cached sound in samples (0 when not cached)."""
        audio = self.cache.get(sound.id)
        return 0 if audio is None else len(audio)

    def sidecar(self, sound: Sound) -> dict[str, Any]:
        """The JSON sidecar of a sound, as `dkvae render` reads it."""
        return self.sidecar_of(sound.recipe)

    def sidecar_of(self, recipe: Recipe) -> dict[str, Any]:
        """The JSON sidecar of the sound a recipe makes."""
        return sidecar_document(self.machine, recipe, WEB_BIT_DEPTH)
