"""The web drum machine serving a codec with its flow prior: every route the page uses, with 1.5 s sounds,
latent sequences of the bundled codec's size, an unconditional decoder and a class-conditional prior."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("fastapi", reason="the web extra (fastapi, uvicorn) is not installed")
from fastapi.testclient import TestClient

from dkvae.core.config import CODEC_AUDIO, OUTPUT_SAMPLE_RATE
from dkvae.inference.generation import render_sidecar
from dkvae.inference.machine import DrumMachine, interpolate_latents
from dkvae.kits.layout import PADS
from dkvae.web.app import create_app
from dkvae.web.directions import DIRECTIONS, FLOW_PCA_SAMPLES, MEASURES, PCA_SEED, SECOND_MEASURES, principal_directions
from dkvae.web.schemas import MORPH_STEPS
from dkvae.web.uploads import decode_upload

from ..conftest import drum_hit
from .conftest import WEB_CODEC_CLASSES
from .test_api import PATTERN, assert_refused, encoded, ref, upload

#: The codec's sound length at the output rate: every sound is this long, or shorter once its silent tail is trimmed.
LONGEST = round(CODEC_AUDIO.duration * OUTPUT_SAMPLE_RATE)
#: The bundled codec's latent size: 16 channels of 65 latent frames, sent as one vector.
LATENT_SIZE = 16 * 65
CODEC_PADS = [pad for pad in PADS if pad.instrument in WEB_CODEC_CLASSES]


@pytest.fixture(scope="module")
def machine(web_codec: Path) -> DrumMachine:
    return DrumMachine.load(web_codec)


@pytest.fixture(scope="module")
def client(web_codec: Path, web_codec_bank: Path) -> TestClient:
    """The app on the tiny codec, with a library of three kicks and three snares."""
    with TestClient(create_app(web_codec, web_codec_bank, workers=1)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def uploaded(client: TestClient) -> dict:
    """A user's sound as the codec hears it (amount 0: its variations keep all of it), with the bytes sent."""
    data = encoded(drum_hit("tone", 0.4))
    response = upload(client, data, amount=0.0, count=2, seed=4)
    assert response.status_code == 200, response.text
    return {**response.json(), "data": data}


def generated(client: TestClient, instrument: str, seed: int, temperature: float = 1.0) -> dict:
    """A new sound of `instrument` as the API describes it."""
    response = client.post("/api/generate", json={"instrument": instrument, "seed": seed, "temperature": temperature})
    assert response.status_code == 200, response.text
    return response.json()


def vary(client: TestClient, sound: dict, amount: float, seed: int, count: int = 1) -> list[dict]:
    """Variations of `sound` from the vary route."""
    response = client.post("/api/vary", json={"sound": ref(sound), "amount": amount, "seed": seed, "count": count})
    assert response.status_code == 200, response.text
    return response.json()


def morph(client: TestClient, a: dict, b: dict, position: int) -> dict:
    """The morph step at `position` from `a` to `b`."""
    response = client.post("/api/morph", json={"a": ref(a), "b": ref(b), "position": position})
    assert response.status_code == 200, response.text
    return response.json()


def wav(client: TestClient, sound: dict) -> np.ndarray:
    """A sound's WAV from the server, as 16-bit samples (checked to be at the output rate)."""
    audio, rate = sf.read(io.BytesIO(client.get(sound["url"]).content), dtype="int16")
    assert rate == OUTPUT_SAMPLE_RATE
    return audio


def assert_codec_length(sound: dict) -> None:
    """The sound is the codec's 1.5 s or trimmed shorter, and not empty."""
    assert 0 < sound["samples"] <= LONGEST, sound["samples"]


def recalled(document: dict, folder: Path) -> np.ndarray:
    """What `dkvae render` makes of a sidecar, as 16-bit samples."""
    (folder / "sound.json").write_text(json.dumps(document))
    return sf.read(render_sidecar(folder / "sound.json", folder / "out"), dtype="int16")[0]


# --- the model and new sounds ---------------------------------------------------------------------------


def test_the_model_is_described_with_its_latent_sequence_as_one_vector(client: TestClient, machine: DrumMachine) -> None:
    info = client.get("/api/model").json()
    assert info["instruments"] == WEB_CODEC_CLASSES and info["library"] is True
    assert info["latent_dim"] == LATENT_SIZE == int(np.prod(machine.latent_shape))
    assert [pad["name"] for pad in info["pads"]] == [pad.name for pad in CODEC_PADS]


def test_generate_draws_each_class_from_the_flow_and_the_same_seed_gives_the_same_sound(
    client: TestClient, machine: DrumMachine, web_codec: Path
) -> None:
    sounds = {instrument: generated(client, instrument, 5) for instrument in WEB_CODEC_CLASSES}
    for instrument, sound in sounds.items():
        sidecar = client.get(sound["sidecar"]).json()
        assert sound["instrument"] == sidecar["instrument"] == instrument and sound["class_weights"] is None
        np.testing.assert_array_equal(np.float32(sound["latent"]), machine.sample_latents(1, 5, instrument)[0])
        assert_codec_length(sound)
        assert len(wav(client, sound)) == sound["samples"]
    latents = [tuple(sound["latent"]) for sound in sounds.values()]
    assert len(set(latents)) == len(latents)  # the prior is class-conditional
    assert generated(client, "snare", 6)["latent"] != sounds["snare"]["latent"]
    with TestClient(create_app(web_codec, workers=1)) as fresh:  # nothing cached: rendered again
        again = generated(fresh, "snare", 5)
        assert again["id"] == sounds["snare"]["id"]
        np.testing.assert_array_equal(wav(fresh, again), wav(client, sounds["snare"]))


def test_generate_takes_a_temperature(client: TestClient) -> None:
    typical = generated(client, "kick", 5, temperature=0.0)
    assert typical["latent"] == generated(client, "kick", 6, temperature=0.0)["latent"]  # no noise: the flow's own
    assert typical["latent"] != generated(client, "kick", 5)["latent"]
    assert client.get(typical["sidecar"]).json()["details"] == {"temperature": 0.0}
    assert client.post("/api/generate", json={"instrument": "kick", "temperature": 5}).status_code == 422


def test_a_sidecar_recalls_its_sound_on_the_page_and_with_dkvae_render(
    client: TestClient, web_codec: Path, tmp_path: Path
) -> None:
    kick = generated(client, "kick", 7)
    sidecar = client.get(kick["sidecar"]).json()
    assert sidecar["model"] == str(web_codec.resolve()) and len(sidecar["latent"]) == LATENT_SIZE
    saved = {key: sidecar[key] for key in ("latent", "instrument", "class_weights")}
    rendered = client.post("/api/render", json=saved).json()
    assert rendered["id"] == kick["id"] and rendered["samples"] == kick["samples"]
    np.testing.assert_array_equal(recalled(sidecar, tmp_path), wav(client, kick))
    assert_refused(client.post("/api/render", json={**saved, "latent": [0.0] * 32}), 422, f"{LATENT_SIZE} values")


# --- vary, upload, morph --------------------------------------------------------------------------------


def test_vary_a_generated_sound_keeps_what_the_amount_says(client: TestClient, machine: DrumMachine) -> None:
    kick = generated(client, "kick", 9)
    [same] = vary(client, kick, 0.0, seed=3)
    # SDEdit keeping all of the sound takes no flow step: only the standardization's rounding is left.
    np.testing.assert_allclose(same["latent"], kick["latent"], atol=1e-5)
    near, far = vary(client, kick, 0.2, seed=3, count=4), vary(client, kick, 1.0, seed=3, count=4)
    assert len({sound["id"] for sound in near}) == 4
    assert all(sound["operation"] == "vary" and sound["instrument"] == "kick" for sound in near + far)
    expected = machine.neighbour_latents(np.float32(kick["latent"]), "kick", 4, 0.2, seed=3)
    np.testing.assert_array_equal(np.float32([sound["latent"] for sound in near]), expected)
    distance = {
        name: np.linalg.norm(np.float32([s["latent"] for s in sounds]) - np.float32(kick["latent"]), axis=1).mean()
        for name, sounds in (("near", near), ("far", far))
    }
    assert distance["near"] < distance["far"]
    assert client.get(near[0]["sidecar"]).json()["details"] == {"amount": 0.2}
    for sound in near:
        assert_codec_length(sound)


def test_an_uploaded_sound_has_no_class_and_varies_renders_and_recalls(
    client: TestClient, machine: DrumMachine, uploaded: dict, tmp_path: Path
) -> None:
    source = uploaded["source"]
    assert uploaded["instrument"] == source["instrument"] == ""  # an unconditional codec does not classify
    assert source["operation"] == "reconstruct" and len(uploaded["variations"]) == 2
    latent, _ = machine.analyse(*decode_upload(uploaded["data"]))
    np.testing.assert_array_equal(np.float32(source["latent"]), latent)
    for variation in uploaded["variations"]:  # amount 0: the sound itself, up to the flow's rounding
        np.testing.assert_allclose(variation["latent"], source["latent"], atol=1e-5)
    assert_codec_length(source)
    [moved] = vary(client, source, 0.5, seed=1)
    assert moved["instrument"] == "" and moved["latent"] != source["latent"]
    assert client.post("/api/render", json=ref(source)).json()["id"] == source["id"]
    sidecar = client.get(source["sidecar"]).json()
    assert sidecar["instrument"] == "" and sidecar["class_weights"] is None
    np.testing.assert_array_equal(recalled(sidecar, tmp_path), wav(client, source))


def test_morph_interpolates_the_sequences_and_labels_each_step_with_the_nearer_end(
    client: TestClient, uploaded: dict
) -> None:
    kick, snare = generated(client, "kick", 11), generated(client, "snare", 11)
    steps = {position: morph(client, kick, snare, position) for position in (0, 8, MORPH_STEPS // 2, 24, MORPH_STEPS - 1)}
    assert steps[0]["latent"] == pytest.approx(kick["latent"])
    assert steps[MORPH_STEPS - 1]["latent"] == pytest.approx(snare["latent"])
    path = interpolate_latents(np.float32(kick["latent"]), np.float32(snare["latent"]), MORPH_STEPS, "slerp")
    np.testing.assert_allclose(steps[MORPH_STEPS // 2]["latent"], path[MORPH_STEPS // 2], atol=1e-5)  # a codec's way
    # The decoder takes no class, so a step's class is only its label: no class blend is made up.
    assert [steps[p]["instrument"] for p in (0, 8, 24, MORPH_STEPS - 1)] == ["kick", "kick", "snare", "snare"]
    assert all(step["class_weights"] is None for step in steps.values())
    for step in steps.values():
        assert_codec_length(step)
    to_yours = [morph(client, kick, uploaded["source"], position) for position in (4, MORPH_STEPS - 1)]
    assert [step["instrument"] for step in to_yours] == ["kick", ""]
    assert to_yours[-1]["latent"] == pytest.approx(uploaded["source"]["latent"])
    body = {"a": ref(kick), "b": ref(snare), "position": MORPH_STEPS}
    assert client.post("/api/morph", json=body).status_code == 422


# --- kit and directions ---------------------------------------------------------------------------------


def test_kit_fills_the_codec_s_pads_with_their_classes_and_repeats_for_a_seed(client: TestClient) -> None:
    first = client.post("/api/kit", json={"seed": 3}).json()
    assert list(first["pads"]) == [pad.name for pad in CODEC_PADS]
    for pad in CODEC_PADS:
        sound = first["pads"][pad.name]
        sidecar = client.get(sound["sidecar"]).json()
        assert sound["instrument"] == sidecar["instrument"] == pad.instrument and sidecar["details"]["pad"] == pad.name
        assert len(sound["latent"]) == LATENT_SIZE
        assert_codec_length(sound)
    again = client.post("/api/kit", json={"seed": 3}).json()
    assert {k: v["id"] for k, v in again["pads"].items()} == {k: v["id"] for k, v in first["pads"].items()}
    typical = client.post("/api/kit", json={"seed": 3, "temperature": 0}).json()["pads"]
    assert typical["closed_hat"]["id"] == typical["open_hat"]["id"] != first["pads"]["closed_hat"]["id"]


@pytest.mark.parametrize("instrument", ["kick", "hihat"])
def test_directions_are_orthogonal_principal_axes_of_the_flow_s_samples(
    client: TestClient, machine: DrumMachine, instrument: str
) -> None:
    directions = client.get(f"/api/directions/{instrument}").json()["directions"]
    names = [direction["name"] for direction in directions]
    assert directions and len(set(names)) == len(names) and set(names) <= {*MEASURES, *SECOND_MEASURES}
    vectors = np.array([direction["vector"] for direction in directions])
    assert vectors.shape == (len(directions), LATENT_SIZE)
    np.testing.assert_allclose(vectors @ vectors.T, np.eye(len(directions)), atol=1e-5)
    axes, scales = principal_directions(machine.sample_latents(FLOW_PCA_SAMPLES, PCA_SEED, instrument), DIRECTIONS)
    for direction, vector in zip(directions, vectors):
        axis = int(np.abs(axes @ vector).argmax())
        assert abs(axes[axis] @ vector) == pytest.approx(1.0, abs=1e-5)  # one axis, turned to its name's way
        assert direction["scale"] == pytest.approx(float(scales[axis]), rel=1e-5) and direction["scale"] > 0
        low, high = direction["measured"]
        assert high >= low
    origin = generated(client, instrument, 2)
    moved = np.float32(origin["latent"]) + 2 * directions[0]["scale"] * vectors[0]
    slid = client.post("/api/render", json={**ref(origin), "latent": moved.tolist()})
    assert slid.status_code == 200 and slid.json()["id"] != origin["id"]
    assert_codec_length(slid.json())


# --- the library: map and similar -----------------------------------------------------------------------


def test_map_and_similar_find_the_library_s_sounds_and_the_session_s(client: TestClient, uploaded: dict) -> None:
    kick = generated(client, "kick", 13)
    drawn = client.get("/api/map").json()
    points = drawn["points"]
    library = [point for point in points if point["source"] == "library"]
    assert len(library) == 6 and {point["instrument"] for point in library} == {"kick", "snare"}
    assert all("latent" not in point for point in points)
    assert all(-1.0 <= point["x"] <= 1.0 and -1.0 <= point["y"] <= 1.0 for point in points)
    session = {point["id"]: point for point in points if point["source"] == "session"}
    assert kick["id"] in session and session[uploaded["source"]["id"]]["instrument"] == ""
    assert client.get(f"/api/sounds/{kick['id']}").json()["latent"] == kick["latent"]
    spot = client.get("/api/map/spot", params={"plane": drawn["plane"], "x": 0.5, "y": 0.5}).json()
    assert (
        len(spot["latent"]) == LATENT_SIZE
        and client.post("/api/render", json={**spot, "instrument": "kick"}).is_success
    )
    index = next(point["index"] for point in library if point["name"] == "snare_1")
    own = client.get(f"/api/library/{index}").json()
    held = client.app.state.studio.library.sounds()
    assert (
        own["name"] == "snare_1" and own["latent"] == held.latents[index].tolist() and len(own["latent"]) == LATENT_SIZE
    )
    assert_refused(client.get("/api/library/6"), 404, "the library has 6 sounds")
    body = {"sound": {"latent": own["latent"], "instrument": "snare"}, "count": 3}
    matches = client.post("/api/similar", json=body).json()
    assert matches["library"] and matches["matches"][0]["name"] == "snare_1" and matches["matches"][0]["distance"] < 1e-4
    yours = client.post("/api/similar", json={"sound": ref(uploaded["source"]), "count": 4}).json()
    distances = [match["distance"] for match in yours["matches"]]
    assert yours["library"] and len(distances) == 4 and distances == sorted(distances)
    history = client.get("/api/history", params={"limit": 500}).json()
    assert kick["id"] in {sound["id"] for sound in history}


def map_bytes_per_point(model: Path, bank: Path) -> float:
    """The map's response bytes per point, for a server on `model` with `bank` as its library and one session sound."""
    with TestClient(create_app(model, bank, workers=1)) as fresh:
        assert fresh.post("/api/generate", json={"instrument": "kick", "seed": 1}).is_success
        response = fresh.get("/api/map")
        assert response.status_code == 200, response.text
        return len(response.content) / len(response.json()["points"])


def test_the_map_s_size_does_not_grow_with_the_latent_s(
    web_vae: Path, web_vae_bank: Path, web_codec: Path, web_codec_bank: Path
) -> None:
    vae = map_bytes_per_point(web_vae, web_vae_bank)  # 4 numbers a latent
    codec = map_bytes_per_point(web_codec, web_codec_bank)  # 1040 numbers a latent
    assert codec < 200 and abs(codec - vae) < 30, (vae, codec)


# --- exports ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kit_pads(client: TestClient, uploaded: dict) -> dict:
    """Every pad's sound from one kit, the rim playing the user's sound (which has no class)."""
    pads = {name: ref(sound) for name, sound in client.post("/api/kit", json={"seed": 2}).json()["pads"].items()}
    return {**pads, "rim": ref(uploaded["source"])}


def test_export_kit_writes_the_codec_s_sounds_with_their_sidecars(client: TestClient, kit_pads: dict) -> None:
    response = client.post("/api/export/kit", json={"pads": kit_pads, "format": "wav", "name": "Codec Kit"})
    assert response.status_code == 200, response.text
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    samples = [name for name in archive.namelist() if name.startswith("kit/samples/") and name.endswith(".wav")]
    assert len(samples) == len(CODEC_PADS)
    for name in samples:
        audio, rate = sf.read(io.BytesIO(archive.read(name)))
        sidecar = json.loads(archive.read(name.removesuffix(".wav") + ".json"))
        assert rate == OUTPUT_SAMPLE_RATE and 0 < len(audio) <= LONGEST and len(sidecar["latent"]) == LATENT_SIZE
    assert json.loads(archive.read("kit/samples/36_kick.json"))["instrument"] == "kick"
    assert json.loads(archive.read("kit/samples/37_rim.json"))["instrument"] == ""
    assert client.post("/api/export/kit", json={"pads": kit_pads, "format": "all"}).status_code == 200


def test_export_loop_and_midi_play_the_pattern_with_the_codec_s_sounds(client: TestClient, kit_pads: dict) -> None:
    body = {"pads": kit_pads, "pattern": {**PATTERN, "rim": [0, 1] * 8}, "tempo": 120, "swing": 0.2}
    loop = client.post("/api/export/loop", json=body)
    assert loop.status_code == 200, loop.text
    audio, rate = sf.read(io.BytesIO(loop.content))
    assert len(audio) == round(16 * 60 / 120 / 4 * rate) and np.abs(audio).max() > 0.5  # 1.5 s tails wrap round
    midi = client.post("/api/export/midi", json=body)
    notes = [m for m in mido.MidiFile(file=io.BytesIO(midi.content)).tracks[0] if m.type == "note_on"]
    assert len(notes) == sum(1 for row in body["pattern"].values() for value in row if value)


def test_a_whole_layout_of_codec_sized_latents_fits_a_request(client: TestClient) -> None:
    """The page sends every pad's latent with an export: for the bundled codec, 14 pads of 1040 values."""
    longest = float(np.float32(-1 / 3))  # a float32 with the longest decimal form
    sound = {"latent": [longest] * LATENT_SIZE, "instrument": "kick", "class_weights": None}
    body = {"pads": {pad.name: sound for pad in PADS}, "pattern": PATTERN}
    response = client.post("/api/export/midi", json=body)  # MIDI reads no latent: only the size limits apply
    assert response.status_code == 200, response.text


# --- a conditional model is unchanged ---------------------------------------------------------------------


def test_a_conditional_model_still_needs_a_class_for_every_sound(web_vae: Path) -> None:
    with TestClient(create_app(web_vae, workers=1)) as vae:  # a conditional VAE, whichever model is bundled
        assert vae.app.state.studio.machine.conditional
        kick = vae.post("/api/generate", json={"instrument": "kick", "seed": 5}).json()
        classless = {**ref(kick), "instrument": ""}
        for route, body in (
            ("/api/render", classless),
            ("/api/vary", {"sound": classless}),
            ("/api/similar", {"sound": classless}),
            ("/api/morph", {"a": ref(kick), "b": classless, "position": 1}),
        ):
            assert_refused(vae.post(route, json=body), 422, "unknown instrument")
