"""The web API's typed requests and responses: what the page sends and gets back, checked before any work."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from dkvae.core.config import MAX_TEMPERATURE
from dkvae.kits.export import FORMATS

#: Seeds stay within what a browser's JavaScript numbers hold exactly.
MAX_SEED = 2**31 - 1
#: Latent values beyond this are far outside any class's spread (the bundled model's sounds lie within ±5).
MAX_LATENT_VALUE = 50.0
#: Longest latent a request may carry (the model's own size is checked too): a codec's latent sequence counts
#: whole (the bundled codec's is 16 x 65 = 1040 values), with room for codecs of more channels or longer sounds.
MAX_LATENT_SIZE = 4096
#: Positions of the morph slider between two sounds, ends included.
MORPH_STEPS = 33
MAX_VARIATIONS = 16
MAX_AMOUNT = 2.0

Seed = Annotated[int, Field(ge=0, le=MAX_SEED, description="Same seed, same sound")]
Amount = Annotated[float, Field(ge=0.0, le=MAX_AMOUNT, description="Distance in units of the class's spread")]
Temperature = Annotated[
    float, Field(ge=0.0, le=MAX_TEMPERATURE, description="Spread around the class's most typical sound (1: as trained)")
]
LatentValue = Annotated[float, Field(ge=-MAX_LATENT_VALUE, le=MAX_LATENT_VALUE, allow_inf_nan=False)]
Weight = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
PadName = Annotated[str, Field(pattern=r"^[a-z_]{1,32}$")]


class Strict(BaseModel):
    """A request model that refuses unknown fields."""

    model_config = ConfigDict(extra="forbid")


class GenerateRequest(Strict):
    """A new sound of one class."""

    instrument: str = Field(max_length=64)
    seed: Seed = 0
    temperature: Temperature = 1.0


class SoundRef(Strict):
    """A sound by its recipe: a latent vector and its class (or class blend)."""

    latent: list[LatentValue] = Field(min_length=1, max_length=MAX_LATENT_SIZE)
    instrument: str = Field(max_length=64)
    class_weights: list[Weight] | None = Field(default=None, max_length=256)


class VaryRequest(Strict):
    """Sounds around one sound."""

    sound: SoundRef
    amount: Amount = 0.3
    seed: Seed = 0
    count: int = Field(default=1, ge=1, le=MAX_VARIATIONS)


class MorphRequest(Strict):
    """One step of the morph from sound `a` to sound `b`."""

    a: SoundRef
    b: SoundRef
    position: int = Field(ge=0, le=MORPH_STEPS - 1)


class KitRequest(Strict):
    """A whole kit, one sound per pad."""

    seed: Seed = 0
    spread: float = Field(default=0.5, ge=0.0, le=1.0)
    temperature: Temperature = 1.0


class SimilarRequest(Strict):
    """The user's library sounds nearest one sound."""

    sound: SoundRef
    count: int = Field(default=8, ge=1, le=32)


class PadSettings(Strict):
    """A pad's mix as the page plays it: applied to the loop's and the kit's sounds (see `dkvae.web.exports`)."""

    #: Linear gain (1: the sound as made).
    volume: float = Field(default=1.0, ge=0.0, le=1.0, allow_inf_nan=False)
    #: Semitones, by playback rate (higher is also shorter, as a sampler plays it).
    tune: float = Field(default=0.0, ge=-24.0, le=24.0, allow_inf_nan=False)
    #: The share of the sound's length kept before it has faded out (1: all of it).
    decay: float = Field(default=1.0, ge=0.05, le=1.0, allow_inf_nan=False)
    #: -1 left .. 1 right (equal power).
    pan: float = Field(default=0.0, ge=-1.0, le=1.0, allow_inf_nan=False)


class PatternRequest(Strict):
    """A step pattern and the pads' sounds: what the loop and MIDI exports play."""

    pads: dict[PadName, SoundRef] = Field(max_length=32)
    #: Per pad, one value per step: 0 rest, 1 hit, 2 accent.
    pattern: dict[PadName, list[Annotated[int, Field(ge=0, le=2)]]] = Field(max_length=32)
    #: Per pad, each step's MIDI velocity (1..127) where it has one; a 0 there keeps the hit's or accent's.
    velocities: dict[PadName, Annotated[list[Annotated[int, Field(ge=0, le=127)]], Field(max_length=32)]] = Field(
        default_factory=dict, max_length=32
    )
    #: Per pad, its mix (pads left out play as made).
    settings: dict[PadName, PadSettings] = Field(default_factory=dict, max_length=32)
    steps: Literal[16, 32] = 16
    tempo: float = Field(default=100.0, ge=40.0, le=300.0)
    swing: float = Field(default=0.0, ge=0.0, le=0.6)


class KitExportRequest(Strict):
    """The pads' sounds as a kit for samplers, in one of the export formats."""

    pads: dict[PadName, SoundRef] = Field(min_length=1, max_length=32)
    format: Literal[FORMATS] = "all"  # type: ignore[valid-type]
    name: str = Field(default="DKVAE web kit", pattern=r"^[\w .\-]{1,48}$")
    demo: bool = False
    #: Per pad, its mix: volume, tune and decay are written into the samples, pan into their sidecars.
    settings: dict[PadName, PadSettings] = Field(default_factory=dict, max_length=32)


class SoundOut(BaseModel):
    """A sound the server holds: fetch its WAV at `url`, its sidecar at `sidecar`."""

    id: str
    url: str
    sidecar: str
    operation: str
    instrument: str
    class_weights: list[float] | None
    seed: int | None
    latent: list[float]
    samples: int
    sample_rate: int


class PadInfo(BaseModel):
    """One pad of the kit layout and the key that plays it."""

    name: str
    label: str
    note: int
    instrument: str
    key: str
    choked_by: list[str]


class ModelInfo(BaseModel):
    """What the page needs to know about the model and the server's limits."""

    model_id: str
    instruments: list[str]
    sample_rate: int
    latent_dim: int
    pads: list[PadInfo]
    morph_steps: int
    max_upload_bytes: int
    max_upload_seconds: float
    library: bool


class KitOut(BaseModel):
    """A kit's sounds by pad name."""

    seed: int
    pads: dict[str, SoundOut]


class UploadOut(BaseModel):
    """A user's sound as the model hears it, and variations of it."""

    instrument: str
    source: SoundOut
    variations: list[SoundOut]


class Direction(BaseModel):
    """One main direction of a class's latent space, named by what moving along it changes most."""

    name: str
    vector: list[float]
    #: The class's standard deviation along `vector`: a slider's unit.
    scale: float
    #: The measure at -2 and +2 scales from the class's mean (Hz, seconds or 0..1).
    measured: tuple[float, float]


class DirectionsOut(BaseModel):
    """The named directions of one class."""

    instrument: str
    directions: list[Direction]


class MapPoint(BaseModel):
    """A sound on the 2-D map: what is drawn, no latent (ask `/api/library/{index}` or `/api/sounds/{id}` for it)."""

    x: float
    y: float
    instrument: str
    source: Literal["library", "session"]
    name: str
    #: A session sound's id (None for a library sound).
    id: str | None
    #: A library sound's index (None for a session sound).
    index: int | None


class MapOut(BaseModel):
    """The sound map: the user's library and this session's sounds, projected on two axes."""

    method: str
    #: The id of the plane the spots between the points read (`/api/map/spot`); None when the points lie on a line.
    plane: str | None
    points: list[MapPoint]


class MapSpot(BaseModel):
    """The latent at a spot of a map, between its points."""

    latent: list[float]


class LibrarySound(BaseModel):
    """One sound of the user's library, by its index."""

    index: int
    name: str
    instrument: str
    latent: list[float]


class LibraryMatch(BaseModel):
    """A sound of the user's library and its distance in latent space."""

    name: str
    instrument: str
    distance: float
    latent: list[float]


class SimilarOut(BaseModel):
    """The nearest library sounds; `library` is False when the server was started without one."""

    library: bool
    matches: list[LibraryMatch]
