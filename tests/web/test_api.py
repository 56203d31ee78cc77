"""The web API with FastAPI's test client: every route, and every bad input refused with the right status."""

from __future__ import annotations

import io
import json
import threading
import zipfile
from collections.abc import Iterable
from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings

pytest.importorskip("fastapi", reason="the web extra (fastapi, uvicorn) is not installed")
from fastapi.testclient import TestClient

from dkvae import Bank
from dkvae.inference.generation import render_sidecar
from dkvae.inference.machine import DrumMachine
from dkvae.kits.layout import PADS
from dkvae.web.app import MAX_JSON_BYTES, create_app, host_warning
from dkvae.web.directions import DIRECTIONS, MEASURES, SECOND_MEASURES
from dkvae.web.exports import Pattern, render_loop
from dkvae.web.schemas import MORPH_STEPS
from dkvae.web.uploads import MAX_UPLOAD_BYTES, MAX_UPLOAD_SECONDS

from ..conftest import drum_hit, write_bank
from ..sound.test_audio_fuzzing import wav_files

RATE = 44100


@pytest.fixture(scope="module")
def client() -> TestClient:
    """The app on the bundled model, no library."""
    with TestClient(create_app()) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def bundled(client: TestClient) -> DrumMachine:
    """The model the app serves: the bundled one, whichever kind it is (the tests take its sizes from it)."""
    return client.app.state.studio.machine


@pytest.fixture(scope="module")
def kick(client: TestClient) -> dict:
    """A generated kick as the API describes it."""
    response = client.post("/api/generate", json={"instrument": "kick", "seed": 5})
    assert response.status_code == 200, response.text
    return response.json()


def ref(sound: dict) -> dict:
    """The API's reference to a sound: latent and class."""
    return {"latent": sound["latent"], "instrument": sound["instrument"], "class_weights": sound["class_weights"]}


def encoded(audio: np.ndarray, rate: int = RATE, fmt: str = "WAV", subtype: str | None = None) -> bytes:
    """Audio as the bytes of a sound file."""
    buffer = io.BytesIO()
    sf.write(buffer, audio, rate, format=fmt, subtype=subtype)
    return buffer.getvalue()


def upload(client: TestClient, data: bytes | Iterable[bytes], **params: object):
    """POST `data` to the upload route as the page does: raw bytes, typed application/octet-stream."""
    return client.post("/api/upload", params=params, content=data, headers={"content-type": "application/octet-stream"})


def assert_refused(response, status: int, words: str = "") -> None:
    """The response has `status` and a message that mentions `words`."""
    assert response.status_code == status, response.text
    assert words.lower() in json.dumps(response.json()["detail"]).lower()


# --- the page and the model ------------------------------------------------------------------------


def test_page_and_static_files_are_served_from_memory_with_a_strict_policy(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and 'type="module"' in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for name in ("main.js", "engine.js", "sequencer.js", "style.css"):
        response = client.get(f"/static/{name}")
        assert response.status_code == 200 and response.headers["x-content-type-options"] == "nosniff"
    assert client.get("/static/main.js").headers["content-type"].startswith("text/javascript")
    assert "http" not in client.get("/static/main.js").text.replace("https://", "").split("fetch(")[0]  # no CDN


def test_openapi_documents_every_route(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/model", "/api/generate", "/api/render", "/api/vary", "/api/morph", "/api/kit", "/api/upload",
                 "/api/sounds/{sound_id}.wav", "/api/sounds/{sound_id}", "/api/history", "/api/directions/{instrument}",
                 "/api/map", "/api/map/spot", "/api/library/{index}", "/api/similar", "/api/export/kit",
                 "/api/export/loop", "/api/export/midi"):  # fmt: skip
        assert path in paths
    assert client.get("/docs").status_code == 200


def test_model_lists_classes_pads_keys_and_limits(client: TestClient) -> None:
    info = client.get("/api/model").json()
    assert info["sample_rate"] == RATE and "kick" in info["instruments"]
    assert [pad["name"] for pad in info["pads"]] == [pad.name for pad in PADS]
    keys = [pad["key"] for pad in info["pads"]]
    assert len(set(keys)) == len(keys) and keys[0] == "1"
    assert next(p for p in info["pads"] if p["name"] == "open_hat")["choked_by"] == ["closed_hat", "pedal_hat"]
    assert info["max_upload_bytes"] == MAX_UPLOAD_BYTES and info["library"] is False


# --- sounds ------------------------------------------------------------------------------------------


def test_generate_is_cached_and_its_wav_and_sidecar_recall_it(
    client: TestClient, bundled: DrumMachine, kick: dict, tmp_path: Path
) -> None:
    again = client.post("/api/generate", json={"instrument": "kick", "seed": 5}).json()
    assert again["id"] == kick["id"] and again["seed"] == 5 and len(again["latent"]) == bundled.latent_dim
    wav = client.get(kick["url"])
    assert wav.status_code == 200 and wav.headers["content-type"] == "audio/wav"
    audio, rate = sf.read(io.BytesIO(wav.content), dtype="int16")
    assert rate == RATE and len(audio) == kick["samples"] > 0
    sidecar = client.get(kick["sidecar"]).json()
    assert sidecar["format"] == "dkvae-sound" and sidecar["model"] == "bundled" and sidecar["latent"] == kick["latent"]
    (tmp_path / "kick.json").write_text(json.dumps(sidecar))
    rendered, _ = sf.read(render_sidecar(tmp_path / "kick.json", tmp_path / "out"), dtype="int16")
    assert np.array_equal(rendered, audio)  # `dkvae render` makes the same sound from the page's sidecar


def test_generate_takes_a_temperature(client: TestClient, kick: dict) -> None:
    typical = client.post("/api/generate", json={"instrument": "kick", "seed": 5, "temperature": 0}).json()
    other = client.post("/api/generate", json={"instrument": "kick", "seed": 6, "temperature": 0}).json()
    assert typical["latent"] == other["latent"] != kick["latent"] and typical["id"] != kick["id"]
    assert client.get(typical["sidecar"]).json()["details"] == {"temperature": 0.0}
    assert client.get(kick["sidecar"]).json()["details"] == {"temperature": 1.0}
    too_hot = client.post("/api/generate", json={"instrument": "kick", "seed": 5, "temperature": 5})
    assert too_hot.status_code == 422 and "temperature" in too_hot.text


def test_an_evicted_sound_is_rendered_again_from_its_recipe() -> None:
    with TestClient(create_app(cache_bytes=1)) as small:
        first = small.post("/api/generate", json={"instrument": "snare", "seed": 1}).json()
        small.post("/api/generate", json={"instrument": "snare", "seed": 2})
        assert small.app.state.studio.sounds.cache.get(first["id"]) is None
        audio, _ = sf.read(io.BytesIO(small.get(first["url"]).content))
        assert len(audio) == first["samples"]


def test_render_recalls_a_latent_and_checks_it(client: TestClient, bundled: DrumMachine, kick: dict) -> None:
    rendered = client.post("/api/render", json=ref(kick)).json()
    assert rendered["id"] == kick["id"]  # same model, class and latent: the same sound
    latent_dim = bundled.latent_dim
    assert_refused(client.post("/api/render", json={**ref(kick), "latent": [0.0] * 8}), 422, f"{latent_dim} values")
    over_one = [0.5, 0.6] + [0] * (len(bundled.instruments) - 2)
    assert_refused(client.post("/api/render", json={**ref(kick), "class_weights": over_one}), 422, "sum to 1")
    assert_refused(client.post("/api/render", json={**ref(kick), "class_weights": [1.0]}), 422, "one value per class")
    nan = json.dumps(ref(kick)).replace(str(kick["latent"][0]), "NaN", 1)
    assert client.post("/api/render", content=nan, headers={"content-type": "application/json"}).status_code == 422
    assert client.post("/api/render", json={**ref(kick), "latent": [1e9] * latent_dim}).status_code == 422
    assert client.post("/api/render", json={**ref(kick), "extra": 1}).status_code == 422


def test_vary_gives_neighbours_at_the_amount(client: TestClient, kick: dict) -> None:
    sounds = client.post("/api/vary", json={"sound": ref(kick), "amount": 0.3, "seed": 9, "count": 3}).json()
    assert len({sound["id"] for sound in sounds}) == 3 and all(sound["operation"] == "vary" for sound in sounds)
    same = client.post("/api/vary", json={"sound": ref(kick), "amount": 0.0, "seed": 9}).json()
    assert same[0]["latent"] == pytest.approx(kick["latent"], abs=1e-6)


def assert_morph_runs_from_one_sound_to_the_other(client: TestClient, kick: dict) -> dict:
    """A morph from `kick` to a new snare starts and ends at them, has `MORPH_STEPS` steps; returns its middle step."""
    snare = client.post("/api/generate", json={"instrument": "snare", "seed": 5}).json()
    body = {"a": ref(kick), "b": ref(snare)}
    start = client.post("/api/morph", json={**body, "position": 0}).json()
    middle = client.post("/api/morph", json={**body, "position": MORPH_STEPS // 2}).json()
    end = client.post("/api/morph", json={**body, "position": MORPH_STEPS - 1}).json()
    assert start["latent"] == pytest.approx(kick["latent"]) and end["latent"] == pytest.approx(snare["latent"])
    assert client.post("/api/morph", json={**body, "position": MORPH_STEPS}).status_code == 422
    return middle


def test_morph_runs_from_one_sound_to_the_other(client: TestClient, kick: dict) -> None:
    assert_morph_runs_from_one_sound_to_the_other(client, kick)


def test_a_conditional_model_s_morph_blends_the_classes(web_vae: Path) -> None:
    """A decoder told the class (a conditional VAE's, whichever model is bundled) blends the two ends' classes
    along the way; an unconditional codec's morph makes none up (tests/web/test_codec_server.py)."""
    with TestClient(create_app(web_vae, workers=1)) as vae:
        assert vae.app.state.studio.machine.conditional
        kick = vae.post("/api/generate", json={"instrument": "kick", "seed": 5}).json()
        middle = assert_morph_runs_from_one_sound_to_the_other(vae, kick)
        weights = dict(zip(vae.get("/api/model").json()["instruments"], middle["class_weights"]))
    assert weights["kick"] == pytest.approx(0.5) and weights["snare"] == pytest.approx(0.5)


def test_kit_fills_every_pad_and_repeats_for_a_seed(client: TestClient) -> None:
    first = client.post("/api/kit", json={"seed": 3}).json()
    assert set(first["pads"]) == {pad.name for pad in PADS}
    assert first["pads"]["closed_hat"]["instrument"] == "hihat"
    again = client.post("/api/kit", json={"seed": 3}).json()
    assert {k: v["id"] for k, v in again["pads"].items()} == {k: v["id"] for k, v in first["pads"].items()}
    assert client.post("/api/kit", json={"seed": 3, "spread": 1.5}).status_code == 422
    typical = client.post("/api/kit", json={"seed": 3, "temperature": 0}).json()["pads"]
    assert typical["closed_hat"]["id"] == typical["open_hat"]["id"] != first["pads"]["closed_hat"]["id"]
    assert client.post("/api/kit", json={"seed": 3, "temperature": 4.5}).status_code == 422


def test_history_lists_the_sessions_sounds_newest_first(client: TestClient, kick: dict) -> None:
    client.post("/api/render", json=ref(kick))
    history = client.get("/api/history", params={"limit": 5}).json()
    assert history[0]["id"] == kick["id"] and len(history) <= 5
    assert client.get("/api/history", params={"limit": 0}).status_code == 422


def test_directions_are_named_by_measured_change(client: TestClient) -> None:
    directions = client.get("/api/directions/hihat").json()["directions"]
    names = [d["name"] for d in directions]
    assert 1 <= len(directions) <= DIRECTIONS and len(set(names)) == len(names)
    assert set(names) <= {*MEASURES, *SECOND_MEASURES}
    for direction in directions:
        assert np.linalg.norm(direction["vector"]) == pytest.approx(1.0, abs=1e-4) and direction["scale"] > 0
        low, high = direction["measured"]
        assert high > low  # moving right increases what the name says
    assert_refused(client.get("/api/directions/banjo"), 422, "unknown instrument")


def test_map_and_similar_without_a_library(client: TestClient, kick: dict) -> None:
    points = client.get("/api/map").json()["points"]
    session = next(point for point in points if point["id"] == kick["id"])
    assert session["source"] == "session" and session["index"] is None and "latent" not in session
    assert all(-1.0 <= point["x"] <= 1.0 and -1.0 <= point["y"] <= 1.0 for point in points)
    assert client.get(f"/api/sounds/{session['id']}").json()["latent"] == kick["latent"]  # what the page acts on
    assert client.post("/api/similar", json={"sound": ref(kick)}).json() == {"library": False, "matches": []}
    assert_refused(client.get("/api/library/0"), 404, "no library")


def test_a_spot_between_the_map_s_points_reads_the_plane_of_that_map(
    client: TestClient, bundled: DrumMachine, kick: dict
) -> None:
    client.post("/api/generate", json={"instrument": "snare", "seed": 5})
    client.post("/api/generate", json={"instrument": "hihat", "seed": 5})
    drawn = client.get("/api/map").json()
    spot = client.get("/api/map/spot", params={"plane": drawn["plane"], "x": 0.25, "y": -0.5})
    assert spot.status_code == 200 and len(spot.json()["latent"]) == bundled.latent_dim
    client.post("/api/generate", json={"instrument": "kick", "seed": 99})  # the map moves; the drawn one's spots stay
    assert client.get("/api/map").json()["plane"] != drawn["plane"]
    assert client.get("/api/map/spot", params={"plane": drawn["plane"], "x": 0.25, "y": -0.5}).json() == spot.json()
    assert_refused(client.get("/api/map/spot", params={"plane": "0" * 16, "x": 0, "y": 0}), 404, "refresh the map")
    for params in ({"plane": drawn["plane"], "x": 3, "y": 0}, {"plane": "x", "x": 0, "y": 0}, {"x": 0, "y": 0}):
        assert client.get("/api/map/spot", params=params).status_code == 422


def test_map_and_similar_with_a_library(tmp_path: Path) -> None:
    bank = write_bank(tmp_path / "bank", per_class=3, classes=("kick", "snare"))
    Bank(bank, preset=DrumMachine.load().config, workers=1)
    with TestClient(create_app(bank=bank)) as library_client:
        assert library_client.get("/api/model").json()["library"] is True
        library = [p for p in library_client.get("/api/map").json()["points"] if p["source"] == "library"]
        assert len(library) == 6 and {p["instrument"] for p in library} == {"kick", "snare"}
        assert sorted(p["index"] for p in library) == list(range(6)) and all("latent" not in p for p in library)
        index = next(p["index"] for p in library if p["name"] == "snare_1")
        own = library_client.get(f"/api/library/{index}").json()
        held = library_client.app.state.studio.library.sounds()
        assert own == {"index": index, "name": "snare_1", "instrument": "snare", "latent": held.latents[index].tolist()}
        matches = library_client.post(
            "/api/similar", json={"sound": {"latent": own["latent"], "instrument": "snare"}, "count": 3}
        ).json()
        assert (
            matches["library"]
            and matches["matches"][0]["name"] == "snare_1"
            and matches["matches"][0]["distance"] < 1e-5
        )
        assert_refused(library_client.get("/api/library/6"), 404, "the library has 6 sounds")
        assert library_client.get("/api/library/-1").status_code == 422


def test_an_unprocessed_bank_is_refused(tmp_path: Path) -> None:
    from dkvae.core.errors import DkvaeError

    with pytest.raises(DkvaeError, match="not processed"):
        create_app(bank=write_bank(tmp_path / "raw", per_class=1))


# --- uploads -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "subtype"), [("WAV", "PCM_24"), ("FLAC", None), ("AIFF", None), ("OGG", "VORBIS")])
def test_an_uploaded_sound_gets_variations(
    client: TestClient, bundled: DrumMachine, fmt: str, subtype: str | None
) -> None:
    data = encoded(drum_hit("tone", 0.4), fmt=fmt, subtype=subtype)
    response = upload(client, data, amount=0.2, count=3, seed=4)
    assert response.status_code == 200, response.text
    result = response.json()
    # A conditional model names the sound's class; an unconditional one (a codec) does not classify: "".
    classes = client.get("/api/model").json()["instruments"] if bundled.conditional else [""]
    assert result["instrument"] in classes
    assert result["source"]["operation"] == "reconstruct" and len(result["variations"]) == 3


def test_oversized_uploads_are_refused_with_413(client: TestClient) -> None:
    assert_refused(upload(client, b"\0" * (MAX_UPLOAD_BYTES + 1)), 413, "larger than")
    streamed = upload(client, iter([b"\0" * 2**20] * (MAX_UPLOAD_BYTES // 2**20 + 1)))
    assert streamed.status_code == 413  # no Content-Length: counted as it arrives
    long = encoded(np.full(int(8000 * (MAX_UPLOAD_SECONDS + 5)), 0.1, np.float32), rate=8000)
    assert len(long) < MAX_UPLOAD_BYTES
    assert_refused(upload(client, long), 413, "at most")
    assert_refused(client.post("/api/render", content=b"{" + b" " * MAX_JSON_BYTES + b"}",
                               headers={"content-type": "application/json"}), 413)  # fmt: skip


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (b"<html>not a sound</html>" * 10, "not a sound file"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 24, "not a sound file"),
        (encoded(np.zeros(4410, np.float32)), "silent"),
    ],
)
def test_unusable_uploads_are_refused_with_a_message(client: TestClient, data: bytes, words: str) -> None:
    assert_refused(upload(client, data), 422, words)


def test_upload_parameters_are_checked(client: TestClient) -> None:
    data = encoded(drum_hit("noise", 0.3))
    for params in ({"amount": -0.1}, {"amount": 5}, {"count": 0}, {"count": 99}, {"seed": -1}, {"seed": "x"}):
        assert upload(client, data, **params).status_code == 422, params


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/json", None])
def test_an_upload_not_typed_as_a_sound_is_refused_with_415(client: TestClient, content_type: str | None) -> None:
    headers = {} if content_type is None else {"content-type": content_type}
    response = client.post("/api/upload", content=encoded(drum_hit("tone", 0.4)), headers=headers)
    assert_refused(response, 415, "multipart/form-data (curl -F file=@kick.wav)")
    assert str(content_type or "no content type") in response.json()["detail"]


def test_an_upload_typed_as_any_sound_is_read_by_its_bytes(client: TestClient) -> None:
    data = encoded(drum_hit("tone", 0.4))
    raw = upload(client, data, count=1, seed=3).json()
    for content_type in ("audio/wav", "audio/x-aiff", "Audio/FLAC; rate=44100"):
        headers = {"content-type": content_type}
        typed = client.post("/api/upload", params={"count": 1, "seed": 3}, content=data, headers=headers)
        assert typed.status_code == 200 and typed.json() == raw, content_type


def test_a_multipart_upload_is_read_like_a_raw_one(client: TestClient) -> None:
    data = encoded(drum_hit("tone", 0.4))
    params = {"amount": 0.2, "count": 2, "seed": 4}
    raw = upload(client, data, **params).json()
    form = client.post("/api/upload", params=params, files={"file": ("kick.wav", data, "audio/wav")})
    assert form.status_code == 200, form.text
    assert form.json() == raw
    beside = client.post("/api/upload", params=params, data={"note": "mine"}, files={"sound": ("k.wav", data)})
    assert beside.status_code == 200 and beside.json() == raw  # the file is found by its file name, whatever its field


def test_a_multipart_upload_without_a_file_says_what_it_expects(client: TestClient) -> None:
    no_file = client.post("/api/upload", files={"note": (None, b"a kick")})
    assert_refused(no_file, 422, "no file in the form; send the sound as a file field: curl -F file=@kick.wav")
    no_boundary = client.post("/api/upload", content=b"--x\r\n\r\n", headers={"content-type": "multipart/form-data"})
    assert_refused(no_boundary, 422, "no file in the form")
    empty = client.post("/api/upload", files={"file": ("kick.wav", b"", "audio/wav")})
    assert_refused(empty, 422, "empty")


# --- bad parameters, paths, routes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"instrument": "banjo", "seed": 1},
        {"instrument": "kick", "seed": -1},
        {"instrument": "kick", "seed": 2**31},
        {"instrument": "kick", "seed": "seven"},
        {"instrument": "kick", "seed": 1.5},
        {"seed": 1},
        {"instrument": "kick", "seed": 1, "path": "/etc/passwd"},
    ],
)
def test_bad_generate_requests_get_422(client: TestClient, body: dict) -> None:
    response = client.post("/api/generate", json=body)
    assert response.status_code == 422 and response.json()["detail"]


def test_unknown_class_lists_the_known_ones(client: TestClient) -> None:
    assert_refused(client.post("/api/generate", json={"instrument": "banjo"}), 422, "this model knows: clap")


@pytest.mark.parametrize("amount", [-0.5, 2.5, "lots"])
def test_bad_amounts_get_422(client: TestClient, kick: dict, amount: object) -> None:
    assert client.post("/api/vary", json={"sound": ref(kick), "amount": amount}).status_code == 422


@pytest.mark.parametrize(
    "path",
    [
        "/api/sounds/..%2F..%2F..%2Fetc%2Fpasswd.wav",
        "/api/sounds/%2e%2e%2fpyproject.toml",
        "/api/sounds/0123456789abcdef",  # well formed, never made
        "/api/sounds/0123456789abcdef.wav",
        "/api/sounds/ZZZZ.wav",
        "/static/..%2F..%2F__init__.py",
        "/static/%2e%2e/app.py",
        "/static/app.py",
        "/static/../../../../etc/passwd",
        "/api/directions/..%2F..%2Fetc%2Fpasswd",
        "/api/nothing",
        "/nothing",
        "/index.html/../../pyproject.toml",
    ],
)
def test_path_tricks_and_unknown_routes_reach_no_file(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code in (404, 422), (path, response.status_code)
    assert "root:" not in response.text and "[project]" not in response.text and "import" not in response.text


def test_unknown_routes_are_404(client: TestClient) -> None:
    assert client.get("/api/unknown").status_code == 404
    assert client.post("/api/generate/extra", json={}).status_code == 404
    assert client.delete("/api/generate").status_code == 405


def test_only_allowed_hosts_are_answered() -> None:
    with TestClient(create_app(allowed_hosts=["127.0.0.1"]), base_url="http://127.0.0.1") as local:
        assert local.get("/api/model").status_code == 200
        assert local.get("/api/model", headers={"host": "evil.example"}).status_code == 400


FOREIGN_ORIGINS = [
    "http://evil.example",
    "null",
    "http://testserver:8080",
    "https://testserver",
    "http://testserver.evil.example",
    "http://evil.example/http://testserver",
]


@pytest.mark.parametrize("origin", FOREIGN_ORIGINS)
def test_a_page_of_another_origin_cannot_change_anything(client: TestClient, kick: dict, origin: str) -> None:
    foreign = {"origin": origin}
    generate = client.post("/api/generate", json={"instrument": "kick", "seed": 5}, headers=foreign)
    assert_refused(generate, 403, f"requests from {origin} are refused")
    blind = client.post("/api/upload", content=b"x", headers={**foreign, "content-type": "text/plain"})
    assert blind.status_code == 403  # the cross-site form of the issue: refused before its body is read
    assert client.put("/api/generate", headers=foreign).status_code == 403
    assert client.delete("/api/generate", headers=foreign).status_code == 403
    assert client.get("/api/model", headers=foreign).status_code == 200  # reading is the browser's to forbid


def test_the_own_origin_and_clients_without_one_may_change_state(client: TestClient, kick: dict) -> None:
    body = {"instrument": "kick", "seed": 5}
    for headers in ({"origin": "http://testserver"}, {"origin": "HTTP://TestServer:80"}, {}):
        response = client.post("/api/generate", json=body, headers=headers)
        assert response.status_code == 200 and response.json()["id"] == kick["id"], headers


def test_a_non_loopback_host_is_warned_about() -> None:
    assert host_warning("127.0.0.1") is None and host_warning("localhost") is None and host_warning("::1") is None
    assert "network" in host_warning("0.0.0.0") and host_warning("192.168.1.5") is not None


# --- the pool ---------------------------------------------------------------------------------------------


def test_a_full_pool_answers_503_and_cached_sounds_still_play() -> None:
    with TestClient(create_app(workers=1, queue=0)) as busy:
        cached = busy.post("/api/generate", json={"instrument": "kick", "seed": 1})
        release = threading.Event()
        blocker = busy.app.state.studio.sounds.pool.submit(release.wait)
        try:
            refused = busy.post("/api/generate", json={"instrument": "kick", "seed": 2})
            assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
            assert busy.post("/api/generate", json={"instrument": "kick", "seed": 1}).json() == cached.json()
        finally:
            release.set()
            blocker.result(timeout=5)
        assert busy.post("/api/generate", json={"instrument": "kick", "seed": 2}).status_code == 200


# --- exports ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kit_pads(client: TestClient) -> dict:
    """Every pad's sound reference from one kit."""
    return {name: ref(sound) for name, sound in client.post("/api/kit", json={"seed": 2}).json()["pads"].items()}


PATTERN = {
    "kick": [2, 0, 0, 0] * 4,
    "snare": [0, 0, 0, 0, 1, 0, 0, 0] * 2,
    "closed_hat": [1, 0] * 8,
    "open_hat": [0, 0, 0, 1] * 4,
}


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("wav", "kit/kit.json"),
        ("sfz", "kit/kit.sfz"),
        ("hydrogen", ".h2drumkit"),
        ("sf2", "kit/My_Kit.sf2"),
        ("all", ".dspreset"),
    ],
)
def test_export_kit_downloads_a_zip_of_the_format(client: TestClient, kit_pads: dict, fmt: str, expected: str) -> None:
    response = client.post("/api/export/kit", json={"pads": kit_pads, "format": fmt, "name": "My Kit"})
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    assert 'filename="My_Kit.zip"' in response.headers["content-disposition"]
    names = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
    assert any(name.endswith(expected) for name in names)
    if fmt == "wav":
        assert "kit/samples/36_kick.wav" in names and "kit/samples/36_kick.json" in names


@pytest.mark.parametrize(
    ("name", "fallback", "exact"),
    [("鼓", "download.zip", "%E9%BC%93.zip"), ("Café Kit", "Cafe_Kit.zip", "Caf%C3%A9_Kit.zip")],
)
def test_a_kit_named_outside_ascii_downloads_under_its_name(
    client: TestClient, kit_pads: dict, name: str, fallback: str, exact: str
) -> None:
    response = client.post("/api/export/kit", json={"pads": kit_pads, "format": "wav", "name": name})
    assert response.status_code == 200
    disposition = response.headers["content-disposition"]
    assert disposition == f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{exact}"  # RFC 6266 / RFC 5987
    assert "kit/kit.json" in zipfile.ZipFile(io.BytesIO(response.content)).namelist()


@pytest.mark.parametrize(
    "change",
    [{"format": "zip"}, {"name": "../../etc/evil"}, {"name": "a/b"}, {"pads": {}}, {"pads": {"cowbell": None}}],
)
def test_bad_kit_exports_get_422(client: TestClient, kit_pads: dict, change: dict) -> None:
    body = {"pads": kit_pads, "format": "wav", **change}
    if change.get("pads") == {"cowbell": None}:
        body["pads"] = {"cowbell": kit_pads["kick"]}
    assert client.post("/api/export/kit", json=body).status_code == 422


def test_export_loop_is_one_seamless_pass_of_the_pattern(client: TestClient, kit_pads: dict) -> None:
    response = client.post("/api/export/loop", json={"pads": kit_pads, "pattern": PATTERN, "tempo": 120, "swing": 0.2})
    assert response.status_code == 200 and response.headers["content-type"] == "audio/wav"
    audio, rate = sf.read(io.BytesIO(response.content))
    assert len(audio) == round(16 * 60 / 120 / 4 * rate)  # one bar, tails wrapped to the start
    assert np.abs(audio).max() > 0.5


def test_the_loop_mix_chokes_the_open_hat() -> None:
    pattern = Pattern(16, 120.0, 0.0, {"open_hat": [1] + [0] * 15, "closed_hat": [0, 0, 1] + [0] * 13})
    ring = np.ones(RATE, np.float32) * 0.5
    sounds = {"open_hat": ring, "closed_hat": np.zeros(10, np.float32)}
    choked = render_loop(pattern, sounds, {"open_hat": ("closed_hat",)}, RATE)
    free = render_loop(pattern, sounds, {}, RATE)
    step = round(pattern.step_seconds * RATE)
    assert np.abs(choked[3 * step :]).max() == 0 and np.abs(free[3 * step :]).max() > 0


def test_export_midi_plays_the_pattern_on_the_drum_channel(client: TestClient, kit_pads: dict) -> None:
    response = client.post("/api/export/midi", json={"pads": kit_pads, "pattern": PATTERN, "tempo": 90, "swing": 0.25})
    assert response.status_code == 200 and response.headers["content-type"] == "audio/midi"
    midi = mido.MidiFile(file=io.BytesIO(response.content))
    notes = [m for m in midi.tracks[0] if m.type == "note_on"]
    assert len(notes) == sum(1 for row in PATTERN.values() for value in row if value)
    assert {m.note for m in notes} == {36, 38, 42, 46} and all(m.channel == 9 for m in notes)
    assert max(m.velocity for m in notes) == 127  # the kick's accents


def test_bad_patterns_get_422(client: TestClient, kit_pads: dict) -> None:
    for change in (
        {"tempo": 1000},
        {"swing": 0.9},
        {"steps": 12},
        {"pattern": {"kick": [3] * 16}},
        {"pattern": {"banjo": [1] * 16}},
    ):
        body = {"pads": kit_pads, "pattern": PATTERN, **change}
        assert client.post("/api/export/loop", json=body).status_code == 422, change


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=wav_files())
def test_any_uploaded_wav_gets_variations_or_a_clean_4xx(client: TestClient, data: bytes) -> None:
    """Fuzzed WAV headers and samples (see tests/test_audio_fuzzing.py): never a 500, never a hang."""
    response = upload(client, data, count=1)
    assert response.status_code in (200, 413, 422), response.text
    if response.status_code != 200:
        assert response.json()["detail"]
