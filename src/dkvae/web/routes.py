"""The JSON API: generate, vary, morph, kit, upload, recall, directions, map, library, similar and exports.

Each route checks its input (422 with a message), runs model work on the bounded pool (503 when it
is full) and answers JSON, or bytes for audio and downloads.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response

from dkvae.core.names import safe_name
from dkvae.inference.generation import Recipe
from dkvae.kits.build import build_kit
from dkvae.kits.kit import KitSound
from dkvae.web.exports import Pattern, attachment, kit_zip, loop_wav, pattern_midi, web_kit
from dkvae.web.maps import project_2d
from dkvae.web.schemas import (
    MORPH_STEPS,
    Amount,
    Direction,
    DirectionsOut,
    GenerateRequest,
    KitExportRequest,
    KitOut,
    KitRequest,
    LibraryMatch,
    LibrarySound,
    MapOut,
    MapPoint,
    MapSpot,
    ModelInfo,
    MorphRequest,
    PatternRequest,
    Seed,
    SimilarOut,
    SimilarRequest,
    SoundOut,
    SoundRef,
    UploadOut,
    VaryRequest,
)
from dkvae.web.sounds import wav_bytes
from dkvae.web.studio import Studio
from dkvae.web.uploads import MAX_UPLOAD_BYTES, MAX_UPLOAD_SECONDS, decode_upload, sound_bytes, upload_type

router = APIRouter(prefix="/api")
#: How far from the centre a spot may be asked for, in map units (the points lie within [-1, 1]; the margins a
#: little beyond).
MAP_REACH = 2.0
SoundId = Annotated[str, Path(pattern=r"^[0-9a-f]{16}$", description="A sound's id: 16 hex digits")]


def get_studio(request: Request) -> Studio:
    """The app's studio (set up by `create_app`)."""
    return request.app.state.studio


StudioDep = Annotated[Studio, Depends(get_studio)]


def download(content: bytes, media_type: str, filename: str) -> Response:
    """Bytes sent as a file download under a server-made name."""
    return Response(content, media_type=media_type, headers={"Content-Disposition": attachment(filename)})


@router.get("/model")
async def model_info(studio: StudioDep) -> ModelInfo:
    """The model, its classes and pads (with their keys), and the server's limits."""
    machine = studio.machine
    return ModelInfo(
        model_id=machine.model_id,
        instruments=machine.instruments,
        sample_rate=machine.sample_rate,
        latent_dim=machine.latent_dim,
        pads=studio.pad_infos(),
        morph_steps=MORPH_STEPS,
        max_upload_bytes=MAX_UPLOAD_BYTES,
        max_upload_seconds=MAX_UPLOAD_SECONDS,
        library=studio.library.available,
    )


@router.post("/generate")
async def generate(body: GenerateRequest, studio: StudioDep) -> SoundOut:
    """A new sound of a class, fixed by its seed and temperature (cached: asking again is instant)."""
    instrument = studio.check_instrument(body.instrument)
    latent = studio.machine.sample_latents(1, body.seed, instrument, body.temperature)[0]
    details = {"temperature": body.temperature}
    [sound] = await studio.sounds.ensure(
        [Recipe("generate", latent.tolist(), body.instrument, seed=body.seed, details=details)]
    )
    return studio.out(sound)


@router.post("/render")
async def render(body: SoundRef, studio: StudioDep) -> SoundOut:
    """The sound of a latent and class (a slider's move, a recalled sidecar, a library point)."""
    [sound] = await studio.sounds.ensure([studio.recipe(body, "render")])
    return studio.out(sound)


@router.post("/vary")
async def vary(body: VaryRequest, studio: StudioDep) -> list[SoundOut]:
    """Sounds around a sound, `amount` times its class's spread away."""
    recipe = studio.recipe(body.sound, "vary")
    latents = studio.machine.neighbour_latents(
        studio.latent(body.sound), recipe.instrument, body.count, body.amount, body.seed
    )
    details = {"amount": body.amount}
    recipes = [
        Recipe("vary", z.tolist(), recipe.instrument, recipe.class_weights, body.seed, index, details)
        for index, z in enumerate(latents)
    ]
    return [studio.out(sound) for sound in await studio.sounds.ensure(recipes)]


@router.post("/morph")
async def morph(body: MorphRequest, studio: StudioDep) -> SoundOut:
    """One of `MORPH_STEPS` sounds from `a` to `b`: latents interpolated, classes blended when they differ.

    An unconditional model's decoder takes no class, so there a step's class is only its label: the nearer end's.
    """
    start, end = studio.latent(body.a), studio.latent(body.b)
    first, last = studio.weights(body.a), studio.weights(body.b)
    latent = studio.machine.interpolation_latents(start, end, MORPH_STEPS)[body.position]
    fraction = body.position / (MORPH_STEPS - 1)
    if studio.machine.conditional:
        weights = ((1.0 - fraction) * first + fraction * last).astype(np.float32)
        instrument = studio.machine.instruments[int(weights.argmax())]
        class_weights = None if np.array_equal(first, last) else weights.tolist()
    else:
        nearer = body.a if fraction < 0.5 else body.b
        instrument, class_weights = nearer.instrument, nearer.class_weights
    details = {"steps": MORPH_STEPS, "method": studio.machine.default_interpolation}
    recipe = Recipe("interpolate", latent.tolist(), instrument, class_weights, index=body.position, details=details)
    [sound] = await studio.sounds.ensure([recipe])
    return studio.out(sound)


@router.post("/kit")
async def kit(body: KitRequest, studio: StudioDep) -> KitOut:
    """A whole kit: one sound per pad, chosen by measurement as `dkvae kit` does."""
    build = functools.partial(build_kit, temperature=body.temperature)
    built = await studio.sounds.pool.run(build, studio.machine, body.seed, body.spread)
    pads = {}
    for kit_pad in built.pads:
        sidecar = kit_pad.sounds[0].sidecar
        recipe = Recipe("kit", sidecar["latent"], sidecar["instrument"], seed=body.seed, details=sidecar["details"])
        pads[kit_pad.pad.name] = studio.out(studio.sounds.keep(recipe, kit_pad.sounds[0].audio))
    return KitOut(seed=body.seed, pads=pads)


@router.post(
    "/upload",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                "audio/*": {"schema": {"type": "string", "format": "binary"}},
                "multipart/form-data": {
                    "schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}
                },
            },
        }
    },
)
async def upload(
    request: Request,
    studio: StudioDep,
    amount: Annotated[Amount, Query()] = 0.3,
    count: Annotated[int, Query(ge=1, le=16)] = 8,
    seed: Annotated[Seed, Query()] = 0,
) -> UploadOut:
    """Variations of a user's sound (WAV, FLAC, AIFF, OGG), sent as its bytes or in a form; decoded in memory."""
    content_type = upload_type(request.headers.get("content-type"))  # checked before the body is read
    data = await request.body()

    def analyse() -> tuple[np.ndarray, str, np.ndarray]:
        audio, rate = decode_upload(sound_bytes(data, content_type))
        latent, instrument = studio.machine.analyse(audio, rate)
        return latent, instrument, studio.machine.neighbour_latents(latent, instrument, count, amount, seed)

    latent, instrument, latents = await studio.sounds.pool.run(analyse)
    source = Recipe("reconstruct", latent.tolist(), instrument, details={"source": "upload"})
    details = {"source": "upload", "amount": amount}
    recipes = [
        Recipe("vary", z.tolist(), instrument, seed=seed, index=i, details=details) for i, z in enumerate(latents)
    ]
    sounds = await studio.sounds.ensure([source, *recipes])
    return UploadOut(
        instrument=instrument, source=studio.out(sounds[0]), variations=[studio.out(s) for s in sounds[1:]]
    )


@router.get("/sounds/{sound_id}.wav", response_class=Response, responses={200: {"content": {"audio/wav": {}}}})
async def sound_wav(sound_id: SoundId, studio: StudioDep) -> Response:
    """A sound of this session as WAV bytes (rendered again from its recipe if it left the cache)."""
    sound = studio.sounds.recall(sound_id)
    if sound is None:
        raise HTTPException(404, f"no sound {sound_id} in this session")
    [audio] = await studio.sounds.audio([sound])
    return Response(
        wav_bytes(audio, studio.machine.sample_rate), media_type="audio/wav", headers={"Cache-Control": "max-age=86400"}
    )


@router.get("/sounds/{sound_id}")
async def sound_sidecar(sound_id: SoundId, studio: StudioDep) -> dict[str, Any]:
    """A sound's JSON sidecar: what `dkvae render` needs to make it again."""
    sound = studio.sounds.recall(sound_id)
    if sound is None:
        raise HTTPException(404, f"no sound {sound_id} in this session")
    return studio.sounds.sidecar(sound)


@router.get("/history")
async def history(studio: StudioDep, limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[SoundOut]:
    """This session's sounds, newest first."""
    return [studio.out(sound) for sound in studio.sounds.history(limit)]


@router.get("/directions/{instrument}")
async def directions(instrument: Annotated[str, Path(max_length=64)], studio: StudioDep) -> DirectionsOut:
    """The main directions of a class's latent space, each named by what it measurably changes."""
    studio.check_instrument(instrument)
    found = studio.directions.cached(instrument) or await studio.sounds.pool.run(
        studio.directions.directions, instrument
    )
    return DirectionsOut(
        instrument=instrument,
        directions=[
            Direction(name=d.name, vector=d.vector.tolist(), scale=d.scale, measured=d.measured) for d in found
        ],
    )


@router.get("/map")
async def sound_map(studio: StudioDep, limit: Annotated[int, Query(ge=1, le=2000)] = 500) -> MapOut:
    """The library's sounds and this session's, on the two principal axes of their latents.

    Points carry no latent (a codec's would make the map megabytes): the page asks for a point's when
    it acts on it, and for a spot's between the points by the map's `plane`.
    """

    def build() -> MapOut:
        library = studio.library.sounds()
        picked = studio.library.map_sample()
        session = studio.sounds.history(limit)
        latents = np.concatenate(
            [
                library.latents[picked],
                np.asarray([s.recipe.latent for s in session], np.float32).reshape(-1, studio.machine.latent_dim),
            ]
        )
        points, plane = project_2d(latents)
        out = [
            MapPoint(
                x=x, y=y, instrument=library.instruments[i], source="library", name=library.names[i], id=None, index=i
            )
            for (x, y), i in zip(points[: len(picked)].tolist(), picked.tolist())
        ]
        out += [
            MapPoint(
                x=x,
                y=y,
                instrument=s.recipe.instrument,
                source="session",
                name=f"{s.recipe.operation} {s.id}",
                id=s.id,
                index=None,
            )
            for (x, y), s in zip(points[len(picked) :].tolist(), session)
        ]
        plane_id = None if plane is None else studio.planes.keep(latents, plane)
        return MapOut(method="pca", plane=plane_id, points=out)

    return await studio.sounds.pool.run(build)


@router.get("/map/spot")
async def map_spot(
    studio: StudioDep,
    plane: Annotated[str, Query(pattern=r"^[0-9a-f]{16}$", description="The map's plane id")],
    x: Annotated[float, Query(ge=-MAP_REACH, le=MAP_REACH)],
    y: Annotated[float, Query(ge=-MAP_REACH, le=MAP_REACH)],
) -> MapSpot:
    """The latent at a spot (`x`, `y`) between a map's points, read from the plane of that map as it was drawn."""
    kept = studio.planes.get(plane)
    if kept is None:
        raise HTTPException(404, f"no sound map {plane} here (the server forgets old maps): refresh the map")
    return MapSpot(latent=kept.latent_at(x, y).tolist())


@router.get("/library/{index}")
async def library_sound(index: Annotated[int, Path(ge=0)], studio: StudioDep) -> LibrarySound:
    """One sound of the user's library by index (a map point's), with its latent."""
    if not studio.library.available:
        raise HTTPException(404, f"no library sound {index}: the server has no library (start it with --bank BANK)")
    sounds = await studio.sounds.pool.run(studio.library.sounds)
    if index >= len(sounds.names):
        raise HTTPException(404, f"no library sound {index}: the library has {len(sounds.names)} sounds")
    return LibrarySound(
        index=index,
        name=sounds.names[index],
        instrument=sounds.instruments[index],
        latent=sounds.latents[index].tolist(),
    )


@router.post("/similar")
async def similar(body: SimilarRequest, studio: StudioDep) -> SimilarOut:
    """The library sounds nearest a sound in latent space (none without `--bank`)."""
    latent = studio.latent(body.sound)
    studio.weights(body.sound)
    if not studio.library.available:
        return SimilarOut(library=False, matches=[])
    found = await studio.sounds.pool.run(studio.library.nearest, latent, body.count)
    sounds = studio.library.sounds()
    return SimilarOut(
        library=True,
        matches=[
            LibraryMatch(
                name=sounds.names[i], instrument=sounds.instruments[i], distance=d, latent=sounds.latents[i].tolist()
            )
            for i, d in found
        ],
    )


async def pad_audio(studio: Studio, pads: dict[str, SoundRef]) -> dict[str, tuple[Recipe, np.ndarray]]:
    """The recipe and audio of each named pad's sound (pad names checked against the layout)."""
    recipes = {name: studio.recipe(ref, "render", details={"pad": studio.pad(name).name}) for name, ref in pads.items()}
    sounds = await studio.sounds.ensure(list(recipes.values()))
    audio = await studio.sounds.audio(sounds)
    return {name: (sound.recipe, clip) for name, sound, clip in zip(recipes, sounds, audio)}


@router.post("/export/kit", response_class=Response, responses={200: {"content": {"application/zip": {}}}})
async def export_kit_zip(body: KitExportRequest, studio: StudioDep) -> Response:
    """The pads' sounds as a kit in an export format (`dkvae kit --format`), zipped."""
    audio = await pad_audio(studio, body.pads)
    sounds = [
        (studio.pad(name), KitSound(clip, studio.sounds.sidecar_of(recipe))) for name, (recipe, clip) in audio.items()
    ]
    built = web_kit(body.name, studio.machine.sample_rate, sounds, body.settings)
    content = await studio.sounds.pool.run(kit_zip, built, body.format, body.demo)
    return download(content, "application/zip", f"{safe_name(body.name)}.zip")


def pattern_of(body: PatternRequest, studio: Studio) -> Pattern:
    """The request's pattern and step velocities, their pad names checked."""
    for name in [*body.pattern, *body.velocities, *body.settings]:
        studio.pad(name)
    return Pattern(body.steps, body.tempo, body.swing, dict(body.pattern), dict(body.velocities))


@router.post("/export/loop", response_class=Response, responses={200: {"content": {"audio/wav": {}}}})
async def export_loop(body: PatternRequest, studio: StudioDep) -> Response:
    """One pass of the pattern played with the pads' sounds, as a WAV that loops seamlessly."""
    pattern = pattern_of(body, studio)
    audio = await pad_audio(studio, body.pads)
    clips = {name: clip for name, (_, clip) in audio.items()}
    choked_by = {pad.name: pad.choked_by for pad in studio.pads}
    content = await studio.sounds.pool.run(
        loop_wav, pattern, clips, choked_by, studio.machine.sample_rate, body.settings
    )
    return download(content, "audio/wav", "dkvae-loop.wav")


@router.post("/export/midi", response_class=Response, responses={200: {"content": {"audio/midi": {}}}})
async def export_midi(body: PatternRequest, studio: StudioDep) -> Response:
    """The pattern on the General MIDI drum channel, at the pads' notes."""
    pattern = pattern_of(body, studio)
    notes = {pad.name: pad.note for pad in studio.pads}
    return download(pattern_midi(pattern, notes), "audio/midi", "dkvae-pattern.mid")
