"""`DrumMachine`: generate, encode, decode, reconstruct, interpolate, vary and kit drum sounds with a trained model."""

from __future__ import annotations

import copy
import dataclasses
import os
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from dkvae.core.config import (
    ENCODER_KINDS,
    GENERATOR_KINDS,
    MAX_TEMPERATURE,
    OUTPUT_FADE_SECONDS,
    OUTPUT_SAMPLE_RATE,
    TAIL_DB,
    InversionConfig,
)
from dkvae.core.errors import DkvaeError
from dkvae.core.threads import torch_threads
from dkvae.data.bank import Bank
from dkvae.data.packed import PackedArray
from dkvae.models.checkpoint import ModelDirectory, check_audio_matches, load_model_dir
from dkvae.models.codec import TimeLocalAutoencoder
from dkvae.models.flow_prior import LatentFlow, load_flow_prior
from dkvae.models.latent_prior import LatentPrior, fit_latent_prior
from dkvae.sound.audio import (
    BadAudio,
    cut_at_decay,
    finish_sound,
    prepare_sound,
    resample,
    spectrogram_to_audio,
    write_wav,
)
from dkvae.sound.wav import WAV_SUBTYPES, check_bit_depth

#: Folder of the bundled default model inside the installed package.
PRETRAINED_DIR = "pretrained"
#: How `interpolate` walks the latent space by default: linear, whose morphs of same-class test pairs
#: of the Debian bank are evener than spherical ones on the bundled model and the ones before it.
#: bench/interpolation.py measures the evenness (largest step between neighbouring spectrograms over
#: the mean step; 1 is perfectly even): docs/results.md, "Linear morphs, spherical for a codec", and docs/performance.md.
DEFAULT_INTERPOLATION: Literal["slerp", "linear"] = "linear"
#: A codec's: spherical, whose morphs of the same pairs are the evener on the bundled codec (bench/interpolation.py;
#: docs/results.md, "Linear morphs, spherical for a codec").
CODEC_INTERPOLATION: Literal["slerp", "linear"] = "slerp"
#: How a morph may walk: `interpolate_latents`' two ways, or "prior", along a codec's flow prior's noise.
Interpolation = Literal["slerp", "linear", "prior"]
#: Threads that render several sounds at once, one sound each.
RENDER_WORKERS = os.cpu_count() or 1

#: An instrument name, or one weight per class ``(num_classes,)`` / ``(n, num_classes)`` to blend classes.
Classes = str | np.ndarray


def bundled_model_dir() -> Path:
    """Where the bundled default model lives in the installed package."""
    return Path(str(resources.files("dkvae") / PRETRAINED_DIR))


def check_temperature(temperature: float) -> None:
    """A DkvaeError unless new sounds can be drawn at `temperature` (0 to `MAX_TEMPERATURE`)."""
    if not 0.0 <= temperature <= MAX_TEMPERATURE:
        raise DkvaeError(f"the temperature must be between 0 and {MAX_TEMPERATURE:g}; got {temperature:g}")


class DrumMachine:
    """A trained generator: latent vectors in, drum sounds out, at `OUTPUT_SAMPLE_RATE`.

    >>> machine = DrumMachine.load()                   # the bundled model
    >>> snares = machine.generate("snare", n=8, seed=7)  # (8, samples) float32 at machine.sample_rate
    """

    def __init__(self, directory: ModelDirectory) -> None:
        if directory.config.model.kind not in GENERATOR_KINDS:
            raise DkvaeError(
                f"a {directory.config.model.kind} model cannot generate sounds; use a vae, ae or cgan model"
            )
        self.directory = directory
        self.model = directory.model
        self.config = directory.config
        self.instruments = list(directory.class_names)
        #: The codec's flow prior (`dkvae.models.flow_prior`), or None: another kind, or a codec without one yet.
        self.flow: LatentFlow | None = None
        if isinstance(self.model, TimeLocalAutoencoder) and directory.path is not None:
            try:
                self.flow = load_flow_prior(Path(directory.path), directory.model_id)
            except (ValueError, RuntimeError, KeyError, OSError) as error:
                raise DkvaeError(f"{directory.path} has a flow prior that cannot be used: {error}") from None

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None) -> DrumMachine:
        """Load a model directory (default: the bundled model); weights are safetensors, settings JSON, nothing unpickled."""
        return cls(load_model_dir(bundled_model_dir() if path is None else Path(path)))

    def with_inversion(self, inversion: InversionConfig) -> DrumMachine:
        """This model rendering with other inversion settings (more iterations keep more of the attack, each
        at a little time a sound: bench/generation.py times a render); the weights are shared, not copied."""
        machine = copy.copy(self)
        machine.config = dataclasses.replace(self.config, inversion=inversion)
        return machine

    @property
    def sample_rate(self) -> int:
        """Sample rate of every sound this machine returns, in Hz."""
        return OUTPUT_SAMPLE_RATE

    @property
    def model_sample_rate(self) -> int:
        """Sample rate the model works at, in Hz (its sounds are resampled to `sample_rate`)."""
        return self.config.audio.sample_rate

    @property
    def latent_dim(self) -> int:
        """Size of the latent vectors; a codec's latent sequence ``(channels, frames)`` counts as one vector of their product."""
        if isinstance(self.model, TimeLocalAutoencoder):
            return int(np.prod(self.latent_shape))
        return self.config.model.latent_dim

    @property
    def latent_shape(self) -> tuple[int, ...]:
        """Shape of one sound's latent: ``(latent_dim,)``, or a codec's ``(channels, latent frames)``."""
        if isinstance(self.model, TimeLocalAutoencoder):
            return (self.config.model.latent_channels, self.model.latent_frames(self.config.audio.n_frames))
        return (self.config.model.latent_dim,)

    @property
    def model_id(self) -> str:
        """Digest of the model's weights: what a sidecar records to recall a sound."""
        return self.directory.model_id

    @property
    def conditional(self) -> bool:
        """True when the model is told the drum class (then every decode needs one)."""
        return bool(getattr(self.model, "conditional", False))

    @property
    def default_interpolation(self) -> Literal["slerp", "linear"]:
        """How a morph walks when not told: `CODEC_INTERPOLATION` for a codec, else `DEFAULT_INTERPOLATION`."""
        return CODEC_INTERPOLATION if isinstance(self.model, TimeLocalAutoencoder) else DEFAULT_INTERPOLATION

    @property
    def generates_by_class(self) -> bool:
        """True when a new sound is drawn for a class: a conditional decoder, or a class-conditional prior
        (a codec's flow, an unconditional VAE's per-class Gaussians) in front of an unconditional one."""
        return self.conditional or self.flow is not None or self.directory.latent_prior is not None

    def class_index(self, instrument: str) -> int:
        """The model's index for `instrument`; an unknown name lists the known ones."""
        try:
            return self.instruments.index(instrument)
        except ValueError:
            raise DkvaeError(
                f"unknown instrument {instrument!r}; this model knows: {', '.join(self.instruments)}"
            ) from None

    def class_weights(self, classes: Classes, n: int) -> np.ndarray:
        """``(n, num_classes)`` class weights (rows sum to 1) for an instrument name or given weights.

        Given weights are one row ``(num_classes,)`` for every sound, or a row each ``(n, num_classes)``;
        another shape is a DkvaeError naming the number of classes (a tampered sidecar's, say).
        """
        if isinstance(classes, str) and not classes and not self.conditional:
            return np.full((n, len(self.instruments)), 1.0 / len(self.instruments), np.float32)  # ignored
        if isinstance(classes, str):
            weights = np.zeros((n, len(self.instruments)), np.float32)
            weights[:, self.class_index(classes)] = 1.0
            return weights
        count = len(self.instruments)
        weights = np.asarray(classes, np.float32)
        if weights.shape[-1:] != (count,) or weights.ndim > 2 or weights.size not in (count, n * count):
            found = f"{len(weights)} rows of {weights.shape[-1]}" if weights.ndim == 2 else str(weights.size)
            raise DkvaeError(
                f"the model has {count} classes: class weights must be {count} numbers "
                f"(a row of them per sound), got {found}"
            )
        weights = np.broadcast_to(weights, (n, count))
        if (weights < 0).any() or not np.allclose(weights.sum(axis=1), 1.0, atol=1e-4):
            raise DkvaeError("class weights must be non-negative and sum to 1")
        return weights.copy()

    # --- latents -------------------------------------------------------------------------------

    def noise(self, n: int, seed: int) -> np.ndarray:
        """`n` standard normal vectors ``(n, latent_dim)`` float32, fixed by `seed`."""
        if n < 1:
            raise DkvaeError("the number of sounds must be at least 1")
        generator = torch.Generator().manual_seed(seed)
        return torch.randn(n, self.latent_dim, generator=generator).numpy()

    def sample_latents(self, n: int, seed: int, instrument: str | None = None, temperature: float = 1.0) -> np.ndarray:
        """`n` latent vectors ``(n, latent_dim)`` float32 for new sounds of `instrument`, fixed by `seed`.

        Drawn from the class's Gaussian fitted to the training sounds' latents when the model has one
        (`dkvae.models.latent_prior`: it decodes to far more realistic sounds), else from the standard normal.
        `temperature` scales the draws' spread around the mean: 1 as the training sounds spread, 0 the
        class's most typical sound every time, above 1 stranger sounds (at most `MAX_TEMPERATURE`).
        """
        check_temperature(temperature)
        return self.latents_from_noise(self.noise(n, seed) * np.float32(temperature), instrument)

    def latents_from_noise(self, noise: np.ndarray, instrument: str | None = None) -> np.ndarray:
        """Latents ``(n, latent_dim)`` for standard normal `noise` ``(n, latent_dim)``: the class's prior applied to it."""
        prior = self.directory.latent_prior
        noise = np.asarray(noise, np.float32)
        if self.flow is not None:
            return self._flow_latents(noise, instrument)
        if prior is None or instrument is None:
            return noise
        return prior.sample(self.class_index(instrument), noise)

    def _flow_weights(self, instrument: str | None, n: int) -> torch.Tensor:
        """The flow's class weights ``(n, num_classes + 1)`` for `instrument`; none or "" is "no class"."""
        weights = torch.zeros(n, len(self.instruments) + 1)
        weights[:, self.class_index(instrument) if instrument else -1] = 1.0
        return weights

    @torch.inference_mode()
    def _flow_latents(
        self, noise: np.ndarray, instrument: str | None, start: np.ndarray | None = None, kept: float = 0.0
    ) -> np.ndarray:
        """Flattened codec latents ``(n, latent_dim)`` the flow carries `noise` ``(n, latent_dim)`` to, for `instrument`;
        from `start` ``(latent_dim,)`` keeping the share `kept` of it when given (a variation)."""
        assert self.flow is not None
        shape = (len(noise), *self.latent_shape)
        origin = None if start is None else torch.as_tensor(np.asarray(start, np.float32)).reshape(1, *self.latent_shape)
        with torch_threads(1):
            latents = self.flow.sample(
                torch.as_tensor(noise).reshape(shape), self._flow_weights(instrument, len(noise)),
                start=None if origin is None else origin.expand(shape), start_time=kept,
            )  # fmt: skip
        return latents.reshape(len(noise), -1).numpy()

    def fit_latent_prior(
        self, spectrograms: np.ndarray | PackedArray, labels: np.ndarray, class_names: list[str]
    ) -> LatentPrior:
        """Fit and adopt the per-class latent prior of training `spectrograms` ``(n, freq, frames)``.

        `labels` ``(n,)`` index `class_names`; sounds of classes this model does not know are left out.
        """
        model_index = np.array(
            [self.instruments.index(name) if name in self.instruments else -1 for name in class_names]
        )
        prior = fit_latent_prior(
            lambda batch, index: self.encode_spectrograms(batch, self.instruments[index]),
            spectrograms,
            model_index[np.asarray(labels)],
            len(self.instruments),
        )
        self.directory.latent_prior = prior
        return prior

    def spectrogram(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """The model-ready normalized spectrogram ``(freq, frames)`` of a user's sound ``(samples[, channels])``.

        Raises DkvaeError when the sound is silent, too short or not finite.
        """
        try:
            return prepare_sound(np.asarray(audio, np.float32), sample_rate, self.config.audio)
        except BadAudio as reason:
            raise DkvaeError(f"cannot use this sound: {reason}") from None

    @torch.inference_mode()
    def _encode_spectrograms(self, spectrograms: np.ndarray, labels: torch.Tensor | None) -> np.ndarray:
        if self.config.model.kind not in ENCODER_KINDS:
            raise DkvaeError(
                f"a {self.config.model.kind} model has no encoder: it generates new sounds but cannot encode, "
                "reconstruct, vary or morph yours; use a vae model for that"
            )
        x = torch.as_tensor(np.asarray(spectrograms), dtype=torch.float32)
        with torch_threads(1):
            encoded = self.model.encode(x, labels if self.conditional else None)
        return (encoded[0] if isinstance(encoded, tuple) else encoded).reshape(len(x), -1).numpy()

    def encode_spectrograms(self, spectrograms: np.ndarray, instrument: str) -> np.ndarray:
        """Latents ``(n, latent_dim)`` (posterior means) of normalized spectrograms ``(n, freq, frames)`` of one class."""
        labels = torch.full((len(spectrograms),), self.class_index(instrument)) if self.conditional else None
        return self._encode_spectrograms(spectrograms, labels)

    def classify(self, audio: np.ndarray, sample_rate: int) -> str:
        """The instrument whose decoding reconstructs `audio` best (analysis by synthesis; the model's own judgement).

        An unconditional model has no say: it returns "" (any class decodes alike).
        """
        return self._classify_spectrogram(self.spectrogram(audio, sample_rate)) if self.conditional else ""

    @torch.inference_mode()
    def _classify_spectrogram(self, spectrogram: np.ndarray) -> str:
        if not self.conditional:
            return ""
        count = len(self.instruments)
        labels = torch.arange(count)
        batch = np.repeat(spectrogram[None], count, axis=0)
        latents = torch.as_tensor(self._encode_spectrograms(batch, labels))
        with torch_threads(1):
            rebuilt = self.model.decode(latents, labels).numpy()
        errors = ((rebuilt - spectrogram[None]) ** 2).mean(axis=(1, 2))
        return self.instruments[int(errors.argmin())]

    def analyse(self, audio: np.ndarray, sample_rate: int, instrument: str | None = None) -> tuple[np.ndarray, str]:
        """A user's sound's latent vector ``(latent_dim,)`` (the posterior mean) and class (inferred unless given).

        The sound is analysed once for both.
        """
        spectrogram = self.spectrogram(audio, sample_rate)
        if instrument is None:
            instrument = self._classify_spectrogram(spectrogram)
        return self.encode_spectrograms(spectrogram[None], instrument)[0], instrument

    def encode(self, audio: np.ndarray, sample_rate: int, instrument: str | None = None) -> np.ndarray:
        """The latent vector ``(latent_dim,)`` of a user's sound (the posterior mean); its class is inferred unless given."""
        return self.analyse(audio, sample_rate, instrument)[0]

    # --- sounds ----------------------------------------------------------------------------------

    @torch.inference_mode()
    def decode_spectrograms(self, latents: np.ndarray, classes: Classes) -> np.ndarray:
        """Normalized spectrograms ``(n, freq, frames)`` for latents ``(n, latent_dim)`` of one class or a class blend."""
        z = torch.as_tensor(np.asarray(latents, np.float32).reshape(-1, *self.latent_shape))
        weights = torch.as_tensor(self.class_weights(classes, len(z)))
        return self.model.decode(z, weights if self.conditional else None).clamp(0, 1).numpy()

    def render(self, latents: np.ndarray, classes: Classes) -> np.ndarray:
        """Finished sounds ``(n, samples)`` float32 at `sample_rate` for latents ``(n, latent_dim)``.

        Each sound is decoded, inverted to audio (the config's inversion method), resampled to
        `OUTPUT_SAMPLE_RATE`, and finished: peak-normalized with headroom and faded out at the end.
        Each sound is computed on its own with one torch thread, so it is bit-identical however many
        are rendered with it; several sounds are spread over `RENDER_WORKERS` threads (torch releases
        the GIL; bench/generation.py measures the throughput).
        """
        latents = np.asarray(latents, np.float32).reshape(-1, self.latent_dim)
        if len(latents) < 1:
            raise DkvaeError("the number of sounds must be at least 1")
        weights = self.class_weights(classes, len(latents))
        workers = min(RENDER_WORKERS, len(latents))
        with torch_threads(1):
            if workers == 1:
                return np.stack([self._render_one(latent, weight) for latent, weight in zip(latents, weights)])
            with ThreadPoolExecutor(workers) as pool:
                return np.stack(list(pool.map(self._render_one, latents, weights)))

    def db_range(self) -> tuple[float, float]:
        """The dB range ``(min_db, max_db)`` the model's [0, 1] output maps back to: the config's global range,
        or for ``minmax`` (the seed's) the training sounds' mean range saved with the model."""
        audio = self.config.audio
        if audio.normalization == "minmax":
            stats = self.directory.normalization
            return stats.get("min_value", audio.min_db), stats.get("max_value", audio.max_db)
        return audio.min_db, audio.max_db

    def processed_bank(self, path: str | os.PathLike[str]) -> Bank:
        """The bank at `path`, which must be processed, current, and made with this model's audio settings."""
        bank = Bank(path, process=False)
        if not bank.is_processed():
            raise DkvaeError(
                f"bank {bank.id} is not processed, or changed since; run: dkvae preprocess {bank.original_dir}"
            )
        check_audio_matches(self.config.audio, bank.audio_config, f"bank {bank.id}")
        return bank

    def _render_one(self, latent: np.ndarray, weights: np.ndarray) -> np.ndarray:
        spectrogram = self.decode_spectrograms(latent[None], weights[None])
        audio = spectrogram_to_audio(spectrogram, self.config.audio, *self.db_range(), self.config.inversion)[0]
        audio = resample(audio, self.model_sample_rate, OUTPUT_SAMPLE_RATE)
        return finish_sound(audio, round(OUTPUT_FADE_SECONDS * OUTPUT_SAMPLE_RATE))

    def generate(self, instrument: str, n: int = 1, seed: int = 0, temperature: float = 1.0) -> np.ndarray:
        """`n` new sounds of `instrument`, ``(n, samples)`` float32 at `sample_rate`; the same seed gives the same
        sounds. `temperature`: how far they stray from the class's most typical sound (see `sample_latents`)."""
        return self.render(self.sample_latents(n, seed, instrument, temperature), instrument)

    def decode(self, z: np.ndarray, instrument: Classes) -> np.ndarray:
        """Sounds for latents: ``(latent_dim,)`` -> ``(samples,)``, ``(n, latent_dim)`` -> ``(n, samples)``."""
        z = np.asarray(z, np.float32)
        audio = self.render(z, instrument)
        return audio[0] if z.ndim == 1 else audio

    def reconstruct(self, audio: np.ndarray, sample_rate: int, instrument: str | None = None) -> np.ndarray:
        """The model's rendering ``(samples,)`` of a user's sound: encode (class inferred unless given), then decode."""
        latent, instrument = self.analyse(audio, sample_rate, instrument)
        return self.decode(latent, instrument)

    def interpolation_latents(
        self,
        start: np.ndarray,
        end: np.ndarray,
        steps: int,
        method: Interpolation | None = None,
        instruments: tuple[str, str] = ("", ""),
    ) -> np.ndarray:
        """`steps` latents ``(steps, latent_dim)`` from `start` to `end` inclusive: spherical, linear, or "prior".

        "prior", for a codec with a flow prior, inverts both ends to the flow's noise (each with its own of
        `instruments`, "" for no class), slerps the noises (they are standard normal) and carries each step's
        noise back through the flow with the class blended linearly. The ends stay `start` and `end` exactly
        (the flow brings them back only approximately: its Euler steps are not exactly reversible).
        """
        if steps < 2:
            raise DkvaeError("an interpolation needs at least 2 steps")
        method = method or self.default_interpolation
        if method not in ("slerp", "linear", "prior"):
            raise DkvaeError(f"unknown interpolation {method!r}; use slerp, linear or prior")
        start, end = np.asarray(start, np.float32), np.asarray(end, np.float32)
        if method == "prior":
            return self._prior_latents(start, end, steps, instruments)
        return interpolate_latents(start, end, steps, method)

    @torch.inference_mode()
    def _prior_latents(self, start: np.ndarray, end: np.ndarray, steps: int, instruments: tuple[str, str]) -> np.ndarray:
        """The "prior" morph ``(steps, latent_dim)`` of `interpolation_latents`."""
        if self.flow is None:
            raise DkvaeError(
                "a prior interpolation needs a codec model with a flow prior (dkvae prior trains one); use slerp or linear"
            )
        ends = torch.as_tensor(np.stack([start, end])).reshape(2, *self.latent_shape)
        weights = torch.cat([self._flow_weights(instrument, 1) for instrument in instruments])
        fractions = torch.linspace(0.0, 1.0, steps)[:, None]
        with torch_threads(1):
            noise = self.flow.invert(ends, weights).reshape(2, -1).numpy()
            path = torch.as_tensor(interpolate_latents(noise[0], noise[1], steps, "slerp"))
            blended = (1 - fractions) * weights[0] + fractions * weights[1]
            latents = self.flow.sample(path.reshape(steps, *self.latent_shape), blended).reshape(steps, -1).numpy()
        latents[0], latents[-1] = start, end
        return latents

    def morph_plan(
        self,
        a: np.ndarray,
        rate_a: int,
        b: np.ndarray,
        rate_b: int,
        steps: int,
        method: Interpolation | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Latents ``(steps, latent_dim)`` and class weights ``(steps, num_classes)`` of a morph from `a` to `b`.

        The endpoints are the two sounds' latents; the classes are blended linearly when they differ.
        """
        (start, first), (end, last) = self.analyse(a, rate_a), self.analyse(b, rate_b)
        latents = self.interpolation_latents(start, end, steps, method, (first, last))
        weights = np.linspace(self.class_weights(first, 1)[0], self.class_weights(last, 1)[0], steps)
        return latents, weights.astype(np.float32)

    def interpolate(
        self,
        a: np.ndarray,
        b: np.ndarray,
        steps: int = 8,
        sample_rate: int = OUTPUT_SAMPLE_RATE,
        method: Interpolation | None = None,
    ) -> np.ndarray:
        """A morph ``(steps, samples)`` from sound `a` to sound `b` (both at `sample_rate`), endpoints included.

        The latents are interpolated (`method`, default `default_interpolation`; "prior" walks a codec's
        flow prior's noise, see `interpolation_latents`); when the two sounds
        are of different classes, the class is blended linearly along the way too.
        """
        latents, weights = self.morph_plan(a, sample_rate, b, sample_rate, steps, method)
        return self.render(latents, weights)

    def variation_latents(
        self, audio: np.ndarray, sample_rate: int, n: int, amount: float, seed: int
    ) -> tuple[np.ndarray, str]:
        """Latents ``(n, latent_dim)`` around a sound's own, and its class.

        The offsets are `amount` times the spread of the sound's class (its fitted latent prior; unit
        normal without one): at 1.0 a variation is as far from the sound as a typical other sound of its class.
        A codec with a flow prior varies as SDEdit does: the sound's latent is mixed with noise, keeping
        ``1 - amount`` of it, and the flow carries the mix back to a sound (0: the sound itself, 1: any sound).
        """
        if amount < 0:
            raise DkvaeError("the amount of variation must be >= 0")
        latent, instrument = self.analyse(audio, sample_rate)
        return self.neighbour_latents(latent, instrument, n, amount, seed), instrument

    def neighbour_latents(self, latent: np.ndarray, instrument: str, n: int, amount: float, seed: int) -> np.ndarray:
        """`n` latents ``(n, latent_dim)`` around `latent`, offsets `amount` times the class's spread (see `variation_latents`)."""
        noise = self.noise(n, seed)
        if self.flow is not None:
            return self._flow_latents(noise, instrument, start=latent, kept=max(0.0, 1.0 - amount))
        prior = self.directory.latent_prior
        if prior is not None and instrument:
            noise = noise @ prior.scale_tril[self.class_index(instrument)].T
        return (np.asarray(latent, np.float32)[None] + amount * noise).astype(np.float32)

    def vary(self, audio: np.ndarray, sample_rate: int, n: int = 8, amount: float = 0.3, seed: int = 0) -> np.ndarray:
        """`n` variations ``(n, samples)`` of a user's sound, `amount` away from it in latent space."""
        latents, instrument = self.variation_latents(audio, sample_rate, n, amount, seed)
        return self.render(latents, instrument)

    def kit(self, seed: int = 0, temperature: float = 1.0) -> dict[str, np.ndarray]:
        """One new sound per instrument, ``{instrument: (samples,)}``; the same seed gives the same kit."""
        return {instrument: self.generate(instrument, 1, seed, temperature)[0] for instrument in self.instruments}

    def save_wav(self, path: str | os.PathLike[str], audio: np.ndarray, bit_depth: int = 16) -> Path:
        """Write one sound ``(samples,)`` at `sample_rate` as a WAV file (trailing silence trimmed), atomically."""
        check_bit_depth(bit_depth)
        write_wav(path, trim_tail(audio), OUTPUT_SAMPLE_RATE, WAV_SUBTYPES[bit_depth])
        return Path(path)


def trim_tail(audio: np.ndarray) -> np.ndarray:
    """A finished sound ``(samples,)`` cut where it has decayed below `TAIL_DB`, with a short fade (one sample if silent)."""
    trimmed = cut_at_decay(np.asarray(audio, np.float32), TAIL_DB, round(OUTPUT_FADE_SECONDS * OUTPUT_SAMPLE_RATE))
    return trimmed if len(trimmed) else np.zeros(1, np.float32)


def interpolate_latents(
    start: np.ndarray, end: np.ndarray, steps: int, method: Literal["slerp", "linear"]
) -> np.ndarray:
    """`steps` points ``(steps, dim)`` from `start` to `end` ``(dim,)``, endpoints exact.

    ``slerp`` follows the great circle between the two directions while the norm changes linearly,
    which keeps every point as typical of a Gaussian prior as its endpoints (a straight line dips
    toward the origin, where codes are rarer); ``linear`` is the straight line.
    """
    fractions = np.linspace(0.0, 1.0, steps, dtype=np.float64)[:, None]
    a, b = start.astype(np.float64), end.astype(np.float64)
    if method == "linear":
        points = (1 - fractions) * a + fractions * b
    else:
        norm_a, norm_b = np.linalg.norm(a), np.linalg.norm(b)
        if norm_a == 0 or norm_b == 0:
            points = (1 - fractions) * a + fractions * b
        else:
            unit_a, unit_b = a / norm_a, b / norm_b
            angle = np.arccos(np.clip(unit_a @ unit_b, -1.0, 1.0))
            if angle < 1e-6:
                directions = (1 - fractions) * unit_a + fractions * unit_b
            else:
                directions = (np.sin((1 - fractions) * angle) * unit_a + np.sin(fractions * angle) * unit_b) / np.sin(
                    angle
                )
            points = directions * ((1 - fractions) * norm_a + fractions * norm_b)
    points[0], points[-1] = a, b
    return points.astype(np.float32)
