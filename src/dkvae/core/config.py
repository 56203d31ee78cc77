"""Settings as frozen dataclasses with a JSON round trip, and the named presets `seed` and `default`."""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
import reprlib
from dataclasses import dataclass, field
from typing import Any, Literal

Normalization = Literal["global", "minmax"]

#: File extensions the bank reads (what libsndfile decodes); anything else in a bank is ignored.
AUDIO_EXTENSIONS = frozenset({".wav", ".wave", ".flac", ".aif", ".aiff", ".aifc", ".ogg", ".oga", ".mp3"})

#: Below this peak level (dBFS) a file is treated as silent.
SILENCE_FLOOR_DB = -90.0
#: A sound must stay above its trim threshold for at least this long (seconds) to be kept.
MIN_SOUND_SECONDS = 0.010
#: How far into a file (seconds) the lead-in trim looks for the first sound before giving up.
MAX_LEAD_IN_SECONDS = 10.0
#: Floor added to magnitudes before taking the logarithm, so silence maps to a finite dB value.
AMPLITUDE_FLOOR = 1e-10
#: The Gaussian that stands in for a Hann window of n samples in PGHI is exp(-pi t^2 / lam) with
#: lam = HANN_GAUSSIAN_RATIO * n^2 samples² (Průša et al. 2017; ltfat's value).
HANN_GAUSSIAN_RATIO = 0.25645
#: PGHI gives a random phase to coefficients more than this far below the spectrogram's peak (dB).
PGHI_TOLERANCE_DB = -60.0
#: Seed of the random phase PGHI gives coefficients below its tolerance (fixed: inversion is deterministic).
PGHI_RANDOM_PHASE_SEED = 0
#: The Griffin-Lim iterations after PGHI leave out a sound's last frames when every coefficient in them is
#: more than this far below its peak (dB): 10 dB under PGHI's tolerance, where leaving them out keeps the
#: log-spectral distance, which a cut at the tolerance itself did not (docs/inversion.md, "The inversion":
#: the iteration cut; bench/inversion.py measures the inversion's convergence and attack).
ITERATION_CUT_DB = -70.0
#: A spectrogram whose curvature ratio is under this is too smooth to be an STFT's magnitude, and PGHI takes
#: random steps across its frequencies (`dkvae.sound.inversion.pghi_phase`): the default line of
#: `InversionConfig.smooth_curvature`, and the one sidecars from before that setting were rendered with.
SMOOTH_CURVATURE = 0.15

#: Every generated sound is delivered at this rate (Hz), resampled when a model works at another.
OUTPUT_SAMPLE_RATE = 44100
#: Generated sounds are peak-normalized to this level (dBFS), leaving headroom for a sampler's mix.
OUTPUT_PEAK_DB = -1.0
#: Length of the fade-out at the end of a generated sound, and at a trimmed tail (seconds).
OUTPUT_FADE_SECONDS = 0.010
#: A saved sound ends after its last sample within this many dB of its peak (trailing silence trimmed).
TAIL_DB = -60.0
#: The largest temperature new sounds are drawn at (`DrumMachine.sample_latents`): four times the
#: training sounds' spread around their class's mean, far past any of them.
MAX_TEMPERATURE = 4.0

# Bounds of what a config may hold. Configs are read from files anyone can edit (a model's config.json, a
# sound's sidecar, a processed bank's config.json), and their sizes decide what dkvae allocates and computes:
# a model claiming 1 Hz made generation resample into 10.7 GiB, a billion inversion iterations never ended.
#: Sample rates (Hz) a model may work at: telephone quality up to the highest studio rate in common use.
SAMPLE_RATE_RANGE = (8000, 192_000)
#: The longest sound a config describes (seconds): far past a ride cymbal's tail (the default is 0.74 s).
MAX_SOUND_SECONDS = 10.0
#: STFT sizes (samples): up to 16384, 0.37 s at 44.1 kHz and 16 times the default.
N_FFT_RANGE = (16, 16384)
#: The most bins (frequencies x frames) a spectrogram may have: 64 times the default's 513 x 128, room for
#: 10 s at 192 kHz with the default STFT.
MAX_SPECTROGRAM_BINS = 1 << 22
#: Levels (dB) a config may name: from the log spectrogram's floor (`AMPLITUDE_FLOOR`) to 100 dB above full scale.
DB_RANGE = (20.0 * math.log10(AMPLITUDE_FLOOR), 100.0)
#: The most Griffin-Lim iterations an inversion runs: far past where more change anything audible
#: (bench/inversion.py times and scores iteration counts).
MAX_INVERSION_ITERATIONS = 512
#: The largest latent vector: 32 times the default's.
MAX_LATENT_DIM = 1024
#: The widest layer (channels, dense units, class embedding): 8 times the seed's widest, 32 times the default's.
MAX_LAYER_WIDTH = 4096
#: The largest kernel size, and stride along an axis, of a conv stage (the presets use 3 and 2).
MAX_KERNEL_SIZE, MAX_STRIDE = 15, 8
#: The codec's largest frame-rate reduction, residual blocks per resolution, and mel bands of its loss.
MAX_CODEC_DOWNSAMPLE, MAX_CODEC_BLOCKS, MAX_MEL_BANDS = 64, 16, 512
#: The most classes a model may have, and the longest class name in bytes of UTF-8 (a folder name's limit).
MAX_CLASSES, MAX_CLASS_NAME_BYTES = 1024, 255


def _check_whole(name: str, value: object, low: int, high: int) -> None:
    """Raise ValueError unless `value` is a whole number from `low` to `high` (a file may hold anything)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not low <= value <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}; got {reprlib.repr(value)}")


def _check_number(name: str, value: object, low: float, high: float, unit: str) -> None:
    """Raise ValueError unless `value` is a number from `low` to `high` `unit` (NaN and infinities never are)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not low <= value <= high:
        raise ValueError(f"{name} must be a number from {low:g} to {high:g} ({unit}); got {reprlib.repr(value)}")


@dataclass(frozen=True)
class AudioConfig:
    """How a sound becomes a spectrogram: rate, length, STFT and normalization.

    The spectrogram of one sound has shape ``(n_freq, n_frames)`` with
    ``n_freq = n_fft // 2 + 1`` (DC to Nyquist, both kept) and ``n_frames = 1 + num_samples // hop_length``.
    """

    sample_rate: int = 44100
    #: Length of every sound after fitting, in samples.
    num_samples: int = 32512
    n_fft: int = 1024
    hop_length: int = 256
    #: "global": a fixed dB range [min_db, max_db] maps to [0, 1], so levels stay absolute.
    #: "minmax": each spectrogram is scaled by its own min and max (the seed's choice).
    normalization: Normalization = "global"
    min_db: float = -100.0
    max_db: float = 20.0
    #: The lead-in trim starts the sound where it first rises above this level relative to its peak (dB).
    trim_db: float = -50.0
    #: Kept before the first sample above the trim level, so the attack's rise stays intact (seconds).
    pre_roll: float = 0.001
    #: Fade applied when a sound is cut to length, so no click is added (seconds).
    fade_out: float = 0.010
    #: Scale each sound so its peak is at 0 dBFS before analysis (its original peak is recorded).
    peak_normalize: bool = True

    def __post_init__(self) -> None:
        _check_whole("sample_rate", self.sample_rate, *SAMPLE_RATE_RANGE)
        _check_whole("n_fft", self.n_fft, *N_FFT_RANGE)
        _check_whole("hop_length", self.hop_length, 1, self.n_fft)
        _check_whole("num_samples", self.num_samples, self.n_fft, math.floor(MAX_SOUND_SECONDS * self.sample_rate))
        if self.n_freq * self.n_frames > MAX_SPECTROGRAM_BINS:
            raise ValueError(
                f"a spectrogram of {self.n_freq} x {self.n_frames} bins is more than {MAX_SPECTROGRAM_BINS};"
                " use a longer hop_length or fewer num_samples"
            )
        if self.normalization not in ("global", "minmax"):
            raise ValueError(f"unknown normalization {self.normalization!r}")
        for name in ("min_db", "max_db"):
            _check_number(name, getattr(self, name), *DB_RANGE, "dB")
        if not self.min_db < self.max_db:
            raise ValueError("min_db must be below max_db")
        _check_number("trim_db", self.trim_db, DB_RANGE[0], 0.0, "dB")
        for name in ("pre_roll", "fade_out"):
            _check_number(name, getattr(self, name), 0.0, MAX_SOUND_SECONDS, "seconds")

    @property
    def duration(self) -> float:
        """Length of every sound in seconds."""
        return self.num_samples / self.sample_rate

    @property
    def n_freq(self) -> int:
        """Frequency bins per frame, DC and Nyquist included."""
        return self.n_fft // 2 + 1

    @property
    def n_frames(self) -> int:
        """Frames per spectrogram (centred STFT)."""
        return 1 + self.num_samples // self.hop_length

    @property
    def shape(self) -> tuple[int, int]:
        """Shape of one spectrogram, ``(n_freq, n_frames)``."""
        return (self.n_freq, self.n_frames)


InversionMethod = Literal["gla", "fgla", "pghi"]


@dataclass(frozen=True)
class InversionConfig:
    """How a spectrogram becomes audio again (see `dkvae.sound.inversion.invert`); it does not change a processed bank.

    "gla": plain Griffin-Lim from zero phase; "fgla": fast Griffin-Lim from zero phase; "pghi": phase
    from the magnitude's gradients (PGHI), then `iterations` fast Griffin-Lim iterations. The defaults
    are `bench/inversion.py`'s choice: PGHI + 12 is the fewest iterations whose mean spectral
    convergence beats the seed's 64 plain iterations at the seed's settings on both the test and the
    train split of the Debian bank, with a smaller attack error; PGHI + 8 loses on both (the figures:
    docs/inversion.md, "The default: PGHI + 12 fast Griffin-Lim iterations").
    """

    method: InversionMethod = "pghi"
    #: Griffin-Lim iterations (after PGHI for "pghi"; 0 is PGHI alone).
    iterations: int = 12
    #: Fast Griffin-Lim's step past each projection (Perraudin et al. 2013); "gla" ignores it.
    momentum: float = 0.99
    #: PGHI gives a magnitude too smooth to be an STFT's (a decoder's mean of many sounds) random phase
    #: steps across frequency, where its integration would sum each frame into one click
    #: (`dkvae.sound.inversion.pghi_phase`). Sidecars written before this setting existed recall without it.
    smooth_guard: bool = True
    #: The smooth guard's line: a magnitude whose curvature ratio (`dkvae.sound.inversion._curvature_ratio`) is
    #: under it counts as a decoder's. Real drums read lower at a hop of half a window than of a quarter, so
    #: each preset's line sits under its STFT's real sounds (tests/sound/test_inversion.py checks it; the
    #: figures: docs/inversion.md, "The smooth guard"). Sidecars from before this setting recall with
    #: `SMOOTH_CURVATURE`, the line they had.
    smooth_curvature: float = SMOOTH_CURVATURE

    def __post_init__(self) -> None:
        if self.method not in ("gla", "fgla", "pghi"):
            raise ValueError(f"unknown inversion method {self.method!r}; choose gla, fgla or pghi")
        _check_whole("inversion iterations", self.iterations, 0, MAX_INVERSION_ITERATIONS)
        if not 0.0 <= self.momentum <= 1.0:
            raise ValueError("inversion momentum must be between 0 and 1")
        if not 0.0 <= self.smooth_curvature < 1.0:
            raise ValueError("inversion smooth_curvature must be at least 0 and under 1 (an STFT's ratio is about 1)")


@dataclass(frozen=True)
class SplitConfig:
    """Fractions of the bank held out for test and validation; the rest trains."""

    test: float = 0.10
    val: float = 0.05

    def __post_init__(self) -> None:
        _check_number("the test fraction", self.test, 0.0, 1.0, "of the bank")
        _check_number("the validation fraction", self.val, 0.0, 1.0, "of the bank")
        if self.test + self.val >= 1:
            raise ValueError("split fractions must be >= 0 and leave some data for training")


ModelKind = Literal["vae", "ae", "cgan", "classifier", "codec"]
#: The model kinds that decode latents into sounds (a `DrumMachine` can load them).
GENERATOR_KINDS: tuple[str, ...] = ("vae", "ae", "cgan", "codec")
#: The generator kinds with an encoder (a GAN maps noise to sounds and cannot encode a sound).
ENCODER_KINDS: tuple[str, ...] = ("vae", "ae", "codec")
#: The kinds whose latent is one vector a sound, drawn from per-class Gaussians (`dkvae.models.latent_prior`);
#: the codec's latent is a sequence, drawn by its flow prior (`dkvae.models.flow_prior`).
VECTOR_LATENT_KINDS: tuple[str, ...] = ("vae", "ae")
Architecture = Literal["conv", "dense", "seed"]


#: ModelConfig fields that weigh the loss and leave the network as it is.
LOSS_WEIGHT_FIELDS = ("beta", "onset_weight", "onset_frames", "mel_weight", "mel_bands")


@dataclass(frozen=True)
class ModelConfig:
    """The network: its kind, shape and loss. Input is a spectrogram ``(n_freq, n_frames)`` in [0, 1]."""

    kind: ModelKind = "vae"
    #: "conv": our convolutional encoder/decoder; "seed": the seed's VAE as closely as it runs;
    #: "dense": fully connected layers, for feature vectors (the seed's "tabular data").
    architecture: Architecture = "conv"
    #: Size of the latent vector z.
    latent_dim: int = 32
    #: Output channels of each encoder stage (the decoder mirrors them). Five stages leave a 17 x 4
    #: map, so the dense layers to and from the latent stay small: 1.6 M parameters in all (6 MB),
    #: against 6.2 M with four stages (24, 48, 96, 192), which also reached a higher validation
    #: reconstruction error in the same epochs on the Debian bank (short `dkvae train` runs of each:
    #: docs/results.md, "Five conv stages").
    channels: tuple[int, ...] = (24, 48, 96, 128, 128)
    #: Output channels of the decoder's stages, listed like `channels` (narrowest first); None mirrors
    #: `channels`. A narrower decoder decodes faster: `dkvae distill` trains one to match a model's own.
    decoder_channels: tuple[int, ...] | None = None
    #: Kernel size of each stage, square.
    kernel_sizes: tuple[int, ...] = (3, 3, 3, 3, 3)
    #: Stride of each stage as (freq, time).
    strides: tuple[tuple[int, int], ...] = ((2, 2),) * 5
    #: Hidden layer widths of the dense architecture.
    hidden_sizes: tuple[int, ...] = (512, 256)
    #: Condition the decoder (and encoder) on the drum class with a learned embedding.
    conditional: bool = True
    class_embedding_dim: int = 16
    #: Weight of the KL term against the reconstruction term (beta-VAE). New sounds come from Gaussians
    #: fitted to the training sounds' latents (`dkvae.models.latent_prior`), not from the unit prior, so a small
    #: weight keeps more of each sound without sending samples off the data: on the Debian bank 2e-6
    #: rather than 1e-4 put generated sounds closer to real ones at the same class accuracy and kept
    #: more of each attack in reconstructions (`dkvae evaluate` of both, seeds 0-4: docs/results.md,
    #: "The KL weight: 2e-6").
    beta: float = 2e-6
    #: Extra weight of the reconstruction error in the first `onset_frames` frames (drums live in their attacks).
    onset_weight: float = 0.0
    onset_frames: int = 8
    #: "sigmoid" keeps outputs in [0, 1] as the inputs are; "linear" leaves them free.
    output_activation: Literal["sigmoid", "linear"] = "sigmoid"
    dropout: float = 0.0
    #: The codec (``kind="codec"``, `dkvae.models.codec`): numbers per latent frame, the factor by which
    #: the latent's frame rate is below the spectrogram's (a power of two), the width of its 1-D
    #: convolutions, and residual blocks per resolution.
    latent_channels: int = 16
    codec_downsample: int = 4
    codec_width: int = 192
    codec_blocks: int = 2
    #: The codec's weight of the mel-band loss beside the spectrogram's, and its mel resolutions (bands).
    mel_weight: float = 1.0
    mel_bands: tuple[int, ...] = (32, 128)

    def __post_init__(self) -> None:
        if len(self.kernel_sizes) != len(self.channels) or len(self.strides) != len(self.channels):
            raise ValueError("channels, kernel_sizes and strides need one entry per stage")
        if self.decoder_channels is not None and len(self.decoder_channels) != len(self.channels):
            raise ValueError("decoder_channels needs one entry per stage, as channels has")
        _check_whole("latent_dim", self.latent_dim, 1, MAX_LATENT_DIM)
        _check_whole("class_embedding_dim", self.class_embedding_dim, 1, MAX_LAYER_WIDTH)
        for name in ("channels", "decoder_channels", "hidden_sizes"):
            for index, width in enumerate(getattr(self, name) or ()):
                _check_whole(f"{name}[{index}]", width, 1, MAX_LAYER_WIDTH)
        for index, (kernel_size, stride) in enumerate(zip(self.kernel_sizes, self.strides)):
            _check_whole(f"kernel_sizes[{index}]", kernel_size, 1, MAX_KERNEL_SIZE)
            if len(stride) != 2:
                raise ValueError(f"strides[{index}] must be a pair (freq, time); got {reprlib.repr(stride)}")
            for axis_stride in stride:
                _check_whole(f"strides[{index}]", axis_stride, 1, MAX_STRIDE)
        _check_whole("codec_downsample", self.codec_downsample, 1, MAX_CODEC_DOWNSAMPLE)
        if self.codec_downsample & (self.codec_downsample - 1):
            raise ValueError("codec_downsample must be a power of two")
        _check_whole("latent_channels", self.latent_channels, 1, MAX_LAYER_WIDTH)
        _check_whole("codec_width", self.codec_width, 1, MAX_LAYER_WIDTH)
        _check_whole("codec_blocks", self.codec_blocks, 0, MAX_CODEC_BLOCKS)
        for index, bands in enumerate(self.mel_bands):
            _check_whole(f"mel_bands[{index}]", bands, 1, MAX_MEL_BANDS)

    def same_network(self, other: ModelConfig) -> bool:
        """Whether `other` describes the same network, its loss weights aside (weights trained under one
        loss can go on training under another: a fine-tune with more weight on the attack)."""
        loss_weights = {name: getattr(self, name) for name in LOSS_WEIGHT_FIELDS}
        return dataclasses.replace(other, **loss_weights) == self


LearningRateSchedule = Literal["constant", "cosine"]


@dataclass(frozen=True)
class TrainConfig:
    """How a model is trained."""

    epochs: int = 200
    batch_size: int = 32
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    seed: int = 0
    #: Epochs over which the KL weight rises linearly from 0 to `ModelConfig.beta`, so the latent space does not collapse.
    kl_warmup_epochs: int = 10
    #: Stop when the validation loss has not improved for this many epochs (0: never).
    early_stopping_patience: int = 30
    #: Small random gain and time shifts of the training spectrograms.
    augment: bool = False
    #: Largest random pitch change of a training sound, in semitones, made by changing its playback rate
    #: as a sampler does (`dkvae.data.augmentation.shift_pitch`; 0: none).
    pitch_shift: float = 0.0
    #: Draw classes evenly in each epoch rather than in proportion to their counts.
    balance_classes: bool = True
    gradient_clip: float = 1.0
    #: Stop after this many minutes of training, counted across resumes (0: no limit); for equal-time comparisons.
    max_minutes: float = 0.0
    #: Sharpen a trained VAE's decoder against a discriminator (``--adversarial --init RUN``; see `AdversarialConfig`).
    adversarial: bool = False
    #: Sources (the manifest's ``source`` column, e.g. a Debian package) left out of training and validation
    #: whole, so that `dkvae evaluate` can measure the model on sounds from a source it has never met.
    holdout_sources: tuple[str, ...] = ()
    #: ``constant``, or ``cosine``: the learning rate falls step by step along a half cosine from
    #: `learning_rate` to `learning_rate * final_lr_fraction` at the last step of `epochs`, so a long run
    #: ends with fine steps instead of hovering at its starting step size.
    lr_schedule: LearningRateSchedule = "constant"
    final_lr_fraction: float = 0.01

    def __post_init__(self) -> None:
        if self.lr_schedule not in ("constant", "cosine"):
            raise ValueError(f"unknown lr_schedule {self.lr_schedule!r}; choose constant or cosine")
        _check_number("final_lr_fraction", self.final_lr_fraction, 0.0, 1.0, "of the learning rate")


AdversarialLoss = Literal["hinge", "bce"]


@dataclass(frozen=True)
class AdversarialConfig:
    """The discriminator and the adversarial game: a conditional GAN, or the sharpening phase of a VAE.

    Defaults follow what made small-data GANs train (Miyato & Koyama 2018; StyleGAN2; DiffAugment):
    hinge loss, spectral normalization, a projection discriminator, R1 on real data, an exponential
    moving average of the generator, differentiable augmentation and two time scales. The `seed`
    preset is the seed's plain BCE CGAN: none of these.
    """

    loss: AdversarialLoss = "hinge"
    #: Output channels of the discriminator's conv stages (kernel 3, stride 2 each).
    discriminator_channels: tuple[int, ...] = (32, 64, 128, 128, 128)
    discriminator_hidden: int = 256
    #: Condition the discriminator by projection (an inner product of a class embedding with its features);
    #: False appends the embedding to the features instead, as a plain conditional GAN does.
    projection: bool = True
    spectral_norm: bool = True
    #: Weight of the R1 penalty on real data's gradient (0: none), applied every `r1_interval` steps.
    r1_gamma: float = 1.0
    r1_interval: int = 4
    #: Decay of the generator's weight average used for inference (0: use the raw generator).
    ema_decay: float = 0.999
    #: Random time shift and gain of real and generated spectrograms before the discriminator.
    augment: bool = True
    generator_lr: float = 1e-4
    discriminator_lr: float = 4e-4
    betas: tuple[float, float] = (0.0, 0.99)
    #: Sharpening a VAE: weights of the adversarial and feature-matching terms beside the reconstruction loss,
    #: scaled well under it (a trained default model's reconstruction MSE: `val/reconstruction` in its
    #: logs/metrics.csv), so they nudge the decoder rather than replace its objective.
    adversarial_weight: float = 1e-3
    feature_matching_weight: float = 1e-2
    #: Generated sounds per class in the fixed batch that FD and diversity are measured on every epoch.
    diagnostic_per_class: int = 24
    #: Mode collapse: generated diversity under this fraction of real diversity for `collapse_epochs` epochs
    #: in a row, counted from epoch `collapse_after` (a young generator is not yet varied).
    collapse_ratio: float = 0.25
    collapse_epochs: int = 5
    collapse_after: int = 10

    def __post_init__(self) -> None:
        if self.loss not in ("hinge", "bce"):
            raise ValueError(f"unknown adversarial loss {self.loss!r}; choose hinge or bce")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError("ema_decay must be in [0, 1)")
        if self.r1_interval < 1:
            raise ValueError("r1_interval must be at least 1")


@dataclass(frozen=True)
class Config:
    """Everything a preset decides: how sounds become spectrograms and back, the splits, the model, its training."""

    preset: str = "default"
    audio: AudioConfig = field(default_factory=AudioConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    inversion: InversionConfig = field(default_factory=InversionConfig)
    adversarial: AdversarialConfig = field(default_factory=AdversarialConfig)

    def to_dict(self) -> dict[str, Any]:
        """A plain dict for JSON."""
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        """Indented JSON text."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    def data_json(self) -> str:
        """JSON of the part that decides a processed bank's content (preset name, audio, split)."""
        data = {"preset": self.preset, "audio": dataclasses.asdict(self.audio), "split": dataclasses.asdict(self.split)}
        return json.dumps(data, indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Config:
        """Inverse of `to_dict`; unknown keys are an error so a foreign file is not half-read."""
        return cls(
            preset=str(data.get("preset", "custom")),
            audio=AudioConfig(**data.get("audio", {})),
            split=SplitConfig(**data.get("split", {})),
            model=_model_config(data.get("model", {})),
            train=_train_config(data.get("train", {})),
            inversion=InversionConfig(**data.get("inversion", {})),
            adversarial=_adversarial_config(data.get("adversarial", {})),
        )

    @classmethod
    def from_json(cls, text: str) -> Config:
        """Inverse of `to_json`."""
        return cls.from_dict(json.loads(text))

    def same_data(self, other: Config) -> bool:
        """True when both configs produce identical processed banks (the preset's name does not count)."""
        return self.audio == other.audio and self.split == other.split


def _model_config(data: dict[str, Any]) -> ModelConfig:
    """A `ModelConfig` from JSON, turning lists back into the tuples the dataclass holds."""
    fields = dict(data)
    for name in ("channels", "decoder_channels", "kernel_sizes", "hidden_sizes", "mel_bands"):
        if fields.get(name) is not None:
            fields[name] = tuple(fields[name])
    if "strides" in fields:
        fields["strides"] = tuple(tuple(stride) for stride in fields["strides"])
    return ModelConfig(**fields)


def _train_config(data: dict[str, Any]) -> TrainConfig:
    """A `TrainConfig` from JSON, turning lists back into tuples."""
    fields = dict(data)
    if "holdout_sources" in fields:
        fields["holdout_sources"] = tuple(fields["holdout_sources"])
    return TrainConfig(**fields)


def _adversarial_config(data: dict[str, Any]) -> AdversarialConfig:
    """An `AdversarialConfig` from JSON, turning lists back into tuples."""
    fields = dict(data)
    for name in ("discriminator_channels", "betas"):
        if name in fields:
            fields[name] = tuple(fields[name])
    return AdversarialConfig(**fields)


def _seed_audio() -> AudioConfig:
    """The seed's settings: 22050 Hz, 0.74 s, n_fft 512, hop 256, per-sample min-max, no peak scaling."""
    sample_rate = 22050
    return AudioConfig(
        sample_rate=sample_rate,
        num_samples=math.floor(0.74 * sample_rate),
        n_fft=512,
        hop_length=256,
        normalization="minmax",
        peak_normalize=False,
    )


#: The seed's VAE: four conv stages (512, 256, 128, 64 filters, kernel 3, strides 2, 2, 2, (2, 1)),
#: latent 8, MSE with KL weight 1e-4, sigmoid output, unconditional; Adam at 1e-4 with gradients
#: clipped at 1, batch 128, 150 epochs, no KL warm-up.
SEED_MODEL = ModelConfig(
    kind="vae",
    architecture="seed",
    latent_dim=8,
    channels=(512, 256, 128, 64),
    kernel_sizes=(3, 3, 3, 3),
    strides=((2, 2), (2, 2), (2, 2), (2, 1)),
    conditional=False,
    beta=1e-4,
    output_activation="sigmoid",
)
SEED_TRAIN = TrainConfig(
    epochs=150,
    batch_size=128,
    learning_rate=1e-4,
    kl_warmup_epochs=0,
    early_stopping_patience=0,
    balance_classes=False,
    gradient_clip=1.0,
)

#: The seed's CGAN as its README describes it: binary cross-entropy, the class given to both networks,
#: nothing else (no spectral norm, R1, weight average or augmentation; one learning rate).
SEED_ADVERSARIAL = AdversarialConfig(
    loss="bce",
    projection=False,
    spectral_norm=False,
    r1_gamma=0.0,
    ema_decay=0.0,
    augment=False,
    generator_lr=2e-4,
    discriminator_lr=2e-4,
    betas=(0.5, 0.999),
)

#: The seed's inversion: 64 iterations of plain Griffin-Lim.
SEED_INVERSION = InversionConfig(method="gla", iterations=64)

#: The time-local codec's sounds: 1.5 s (66304 samples: 260 frames at hop 256, 65 latent frames), so
#: cymbals, toms and open hats ring out instead of being cut at the seed's 0.74 s.
CODEC_AUDIO = AudioConfig(num_samples=66304)
#: The codec: 16 numbers every 4 frames (23 ms), the first 12 frames (70 ms, the attack) weighted 4x.
CODEC_MODEL = ModelConfig(kind="codec", conditional=False, beta=1e-4, onset_weight=3.0, onset_frames=12)
#: Its decoder keeps more texture than a VAE's: under the default line its flattest onsets passed for an STFT's
#: and PGHI summed them into a click one hop in (tests/inference/test_onset_spike.py catches it; docs/inversion.md).
CODEC_INVERSION = InversionConfig(smooth_curvature=0.35)
#: Its learning rate decays along a cosine over the run (a constant rate plateaued: docs/results.md).
CODEC_TRAIN = TrainConfig(
    epochs=120, batch_size=16, learning_rate=1e-3, kl_warmup_epochs=5, early_stopping_patience=0, lr_schedule="cosine"
)

PRESETS: dict[str, Config] = {
    "seed": Config(
        preset="seed",
        audio=_seed_audio(),
        split=SplitConfig(test=0.10, val=0.05),
        model=SEED_MODEL,
        train=SEED_TRAIN,
        inversion=SEED_INVERSION,
        adversarial=SEED_ADVERSARIAL,
    ),
    "default": Config(preset="default"),
    "codec": Config(
        preset="codec",
        audio=CODEC_AUDIO,
        model=CODEC_MODEL,
        train=CODEC_TRAIN,
        inversion=CODEC_INVERSION,
    ),
}


def get_preset(name: str) -> Config:
    """The preset called `name` (``seed`` or ``default``)."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}") from None
