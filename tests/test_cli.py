from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from dkvae.cli import app
from dkvae.core.config import InversionConfig
from dkvae.core.errors import DkvaeError

from .conftest import tiny_config
from .importers.test_hydrogen import drumkits, no_debian  # noqa: F401  (fixtures)

runner = CliRunner()


def run_dkvae(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the real entry point in a subprocess (exit codes and stderr as a user sees them)."""
    return subprocess.run([sys.executable, "-m", "dkvae", *args], capture_output=True, text=True, timeout=120, check=False)


def test_preprocess_then_info(small_bank: Path) -> None:
    result = runner.invoke(app, ["preprocess", str(small_bank), "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "12 sounds in 2 classes, 0 skipped" in result.output
    result = runner.invoke(app, ["info", str(small_bank)])
    assert result.exit_code == 0, result.output
    assert "kick" in result.output and "snare" in result.output
    assert '"sample_rate": 44100' in result.output


def test_info_on_an_unprocessed_bank_says_how_to_process_it(small_bank: Path) -> None:
    result = runner.invoke(app, ["info", str(small_bank)])
    assert result.exit_code == 0
    assert "12 audio files, not processed" in result.output
    assert "dkvae preprocess" in result.output


def test_user_errors_print_one_line_and_exit_2(tmp_path: Path, small_bank: Path) -> None:
    missing = run_dkvae("preprocess", str(tmp_path / "nowhere"))
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [f"error: bank folder not found: {tmp_path / 'nowhere'}"]
    assert "Traceback" not in missing.stderr
    preset = run_dkvae("preprocess", str(small_bank), "--preset", "huge")
    assert preset.returncode == 2 and "unknown preset 'huge'" in preset.stderr


def test_import_hydrogen_then_preprocess(tmp_path: Path, drumkits: Path, no_debian: None) -> None:  # noqa: F811
    out = tmp_path / "imported"
    result = runner.invoke(app, ["import", "hydrogen", str(drumkits), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "imported" in result.output and "left out:" in result.output
    assert (out / "manifest.csv").exists()
    result = runner.invoke(app, ["preprocess", str(out), "--workers", "1"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["info", str(out)])
    assert "license" in result.output and "source" in result.output


def test_synth_bank_writes_every_class(tmp_path: Path) -> None:
    result = runner.invoke(app, ["synth-bank", "--out", str(tmp_path / "synth"), "--per-class", "2", "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "synth").iterdir() if p.is_dir()) == sorted(
        ["kick", "snare", "hihat", "tom", "cymbal", "clap", "perc"]
    )
    assert len(list((tmp_path / "synth").glob("*/*.wav"))) == 14


def test_train_from_the_command_line_with_a_config_file(tiny_bank: Path, tmp_path: Path) -> None:
    config_file = tmp_path / "tiny.json"
    config_file.write_text(tiny_config().to_json())
    run = tmp_path / "run"
    result = runner.invoke(
        app, ["train", str(tiny_bank), "--config", str(config_file), "--epochs", "1", "--onset-weight", "2", "--pitch-shift", "1.5", "--out", str(run)]
    )
    assert result.exit_code == 0, result.output
    assert "best validation loss" in result.output
    assert (run / "model.safetensors").exists()
    saved = json.loads((run / "run.json").read_text(encoding="utf-8"))["config"]
    assert saved["model"]["onset_weight"] == 2.0 and saved["train"]["epochs"] == 1
    assert saved["train"]["pitch_shift"] == 1.5
    again = run_dkvae("train", str(tiny_bank), "--config", str(config_file), "--out", str(run))
    assert again.returncode == 2 and "already holds a run" in again.stderr and "Traceback" not in again.stderr


def test_train_refuses_another_network_than_its_init_model(tiny_bank: Path, trained_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    for options, message in ((["--model", "cgan"], "GAN trains from scratch"), (["--arch", "dense"], "architecture 'dense'")):
        result = run_dkvae("train", str(tiny_bank), "--init", str(trained_run), *options, "--out", str(run))
        assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
        assert not run.exists()


def test_train_with_ddp_on_two_cpu_processes(tiny_bank: Path, tmp_path: Path) -> None:
    config_file = tmp_path / "tiny.json"
    config_file.write_text(tiny_config().to_json())
    run = tmp_path / "ddp"
    result = run_dkvae(
        "train", str(tiny_bank), "--config", str(config_file), "--epochs", "1", "--out", str(run),
        "--accelerator", "cpu", "--devices", "2", "--strategy", "ddp",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "world_size=2" in result.stderr or "distributed_backend=gloo" in result.stderr
    assert (run / "model.safetensors").exists()


def test_generate_writes_wavs_with_sidecars_and_refuses_a_broken_model(trained_run: Path, tmp_path: Path) -> None:
    import soundfile as sf

    def generate(out: Path, *extra: str) -> list[Path]:
        result = runner.invoke(app, ["generate", "--model", str(trained_run), "--instrument", "kick", "--count", "2",
                                     "--seed", "3", "--out", str(out), *extra])  # fmt: skip
        assert result.exit_code == 0, result.output
        return sorted(out.glob("*.wav"))

    wavs = generate(tmp_path / "out")
    assert [w.name for w in wavs] == ["kick_3_000.wav", "kick_3_001.wav"]
    cool = generate(tmp_path / "cool", "--temperature", "0.25")
    assert [w.name for w in cool] == ["kick_3_t0.25_000.wav", "kick_3_t0.25_001.wav"]
    assert json.loads(cool[0].with_suffix(".json").read_text())["details"]["temperature"] == 0.25
    hot = run_dkvae("generate", "--model", str(trained_run), "--instrument", "kick", "--temperature", "5", "--out", str(tmp_path / "x"))
    assert hot.returncode == 2 and "--temperature" in hot.stderr and not (tmp_path / "x").exists()
    assert [w.read_bytes() for w in wavs] == [w.read_bytes() for w in generate(tmp_path / "again")]
    info = sf.info(wavs[0])
    assert info.samplerate == 44100 and info.subtype == "PCM_16"
    sidecar = json.loads(wavs[0].with_suffix(".json").read_text())
    assert sidecar["instrument"] == "kick" and sidecar["seed"] == 3 and len(sidecar["latent"]) == 4
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text('{"format": "something else"}')
    failed = run_dkvae("generate", "--model", str(broken), "--instrument", "kick", "--out", str(tmp_path / "x"))
    assert failed.returncode == 2 and "not a dkvae model directory" in failed.stderr
    unknown = run_dkvae("generate", "--model", str(trained_run), "--instrument", "guitar", "--out", str(tmp_path / "x"))
    assert unknown.returncode == 2 and "this model knows: clap, cymbal" in unknown.stderr


def test_generate_takes_instrument_aliases_in_any_case_and_its_help_lists_the_classes(trained_run: Path, tmp_path: Path) -> None:
    for alias, written in (("HH", "hihat_0_000.wav"), ("Snare", "snare_0_000.wav"), ("bd", "kick_0_000.wav")):
        result = runner.invoke(app, ["generate", "--model", str(trained_run), "--instrument", alias, "--count", "1",
                                     "--out", str(tmp_path / alias)])  # fmt: skip
        assert result.exit_code == 0, result.output
        assert [p.name for p in (tmp_path / alias).glob("*.wav")] == [written]
        assert json.loads((tmp_path / alias / written).with_suffix(".json").read_text())["instrument"] == written.split("_")[0]
    shown = " ".join(runner.invoke(app, ["generate", "--help"]).output.replace("│", " ").split())
    assert "kick, snare, hihat, tom, cymbal, clap, perc" in shown and "hh" in shown


def test_no_flag_reads_in_help_as_if_it_took_a_value() -> None:
    import typer

    group = typer.main.get_command(app)
    paths = [[]] + [[name] for name in group.commands] + [["import", name] for name in group.commands["import"].commands]
    for path in paths:
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0 and "--help" in result.output, path
        assert "<bool>" not in result.output, path
    kit_help = runner.invoke(app, ["kit", "--help"]).output
    assert "--demo" in kit_help and "--force" in kit_help


def test_a_count_past_the_limit_needs_yes_and_one_past_the_disk_is_refused(tmp_path: Path) -> None:
    import shutil

    from dkvae.inference.generation import disk_bytes_per_sound
    from dkvae.inference.machine import DrumMachine

    sound = tmp_path / "kick.wav"
    import soundfile as sf

    from .conftest import drum_hit

    sf.write(sound, drum_hit("tone", 0.4, seed=2), 44100)
    out = tmp_path / "out"
    for command in (["generate", "--instrument", "kick", "--count"], ["vary", str(sound), "--count"],
                    ["interpolate", str(sound), str(sound), "--steps"]):  # fmt: skip
        many = run_dkvae(*command, "10001", "--out", str(out))
        assert many.returncode == 2 and f"{command[-1]} 10001 writes" in many.stderr and "--yes" in many.stderr
        assert len(many.stderr.strip().splitlines()) == 1 and not out.exists()
    too_many = 2 * shutil.disk_usage(tmp_path).free // disk_bytes_per_sound(DrumMachine.load())  # twice: others may free space meanwhile
    full = run_dkvae("generate", "--instrument", "kick", "--count", str(too_many), "--yes", "--out", str(out))
    assert full.returncode == 2 and "are free" in full.stderr and not out.exists()


def test_reconstruct_of_files_that_are_not_there_says_so_and_claims_nothing(tmp_path: Path) -> None:
    result = run_dkvae("reconstruct", str(tmp_path / "nosuch.wav"), str(tmp_path), "--out", str(tmp_path / "rec"))
    assert result.returncode == 2 and "wrote" not in result.stdout
    assert f"{tmp_path / 'nosuch.wav'}: no such file" in result.stdout
    assert f"{tmp_path}: it is a folder, not a sound file" in result.stdout
    assert "System error" not in result.stdout + result.stderr and not (tmp_path / "rec").exists()


def test_iterations_change_the_sound_and_render_recalls_them(trained_run: Path, tmp_path: Path) -> None:
    def generate(out: Path, *extra: str) -> Path:
        result = runner.invoke(app, ["generate", "--model", str(trained_run), "--instrument", "snare", "--count", "1",
                                     "--seed", "5", "--out", str(out), *extra])  # fmt: skip
        assert result.exit_code == 0, result.output
        return out / "snare_5_000.wav"

    plain, more = generate(tmp_path / "plain"), generate(tmp_path / "more", "--iterations", "20")
    assert json.loads(more.with_suffix(".json").read_text())["inversion"]["iterations"] == 20
    assert json.loads(plain.with_suffix(".json").read_text())["inversion"]["iterations"] == InversionConfig().iterations
    assert more.read_bytes() != plain.read_bytes()
    result = runner.invoke(app, ["render", str(more.with_suffix(".json")), "--out", str(tmp_path / "again")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "again" / more.name).read_bytes() == more.read_bytes()
    model = ["--model", str(trained_run)]
    refused = run_dkvae("kit", *model, "--from", str(tmp_path / "more"), "--iterations", "4", "--out", str(tmp_path / "k"))
    assert refused.returncode == 2 and "--iterations renders new sounds" in refused.stderr
    too_many = run_dkvae("generate", *model, "--instrument", "snare", "--iterations", "513", "--out", str(tmp_path / "x"))
    assert too_many.returncode == 2 and "--iterations" in too_many.stderr and not (tmp_path / "x").exists()


def test_distill_writes_a_student_that_generates_and_refuses_bad_channels(
    trained_run: Path, tiny_bank: Path, tmp_path: Path
) -> None:
    command = ["distill", str(tiny_bank), "--model", str(trained_run), "--out", str(tmp_path / "fast")]
    result = runner.invoke(app, [*command, "--channels", "4,8", "--steps", "3"])
    assert result.exit_code == 0, result.output
    assert "model " in result.output and str(tmp_path / "fast") in result.output
    made = runner.invoke(app, ["generate", "--model", str(tmp_path / "fast"), "--instrument", "kick", "--out", str(tmp_path / "k")])
    assert made.exit_code == 0, made.output
    assert (tmp_path / "k" / "kick_0_000.wav").exists()
    words = run_dkvae(*command[:-1], str(tmp_path / "other"), "--channels", "4,eight")
    assert words.returncode == 2 and "whole numbers separated by commas" in words.stderr
    again = run_dkvae(*command, "--channels", "4,8", "--steps", "3")
    assert again.returncode == 2 and "already holds a model" in again.stderr
    assert not (tmp_path / "other").exists()


def test_kit_reconstruct_interpolate_vary_and_render(trained_run: Path, tmp_path: Path) -> None:
    import soundfile as sf

    from .conftest import drum_hit

    sf.write(tmp_path / "kick.wav", drum_hit("tone", 0.4, seed=2), 44100)
    sf.write(tmp_path / "snare.wav", drum_hit("noise", 0.4, seed=3), 44100)
    (tmp_path / "empty.wav").write_bytes(b"")
    model = ["--model", str(trained_run)]
    commands = {
        "kit": ["kit", *model, "--seed", "3", "--bit-depth", "24", "--out", str(tmp_path / "kit")],
        "cool kit": ["kit", *model, "--seed", "3", "--temperature", "0.5", "--out", str(tmp_path / "cool")],
        "rec": ["reconstruct", str(tmp_path / "kick.wav"), str(tmp_path / "empty.wav"), *model, "--out", str(tmp_path / "rec")],
        "morph": ["interpolate", str(tmp_path / "kick.wav"), str(tmp_path / "snare.wav"), "--steps", "3", *model,
                  "--out", str(tmp_path / "morph")],
        "vars": ["vary", str(tmp_path / "snare.wav"), "--count", "2", "--amount", "0.3", *model, "--out", str(tmp_path / "vars")],
    }  # fmt: skip
    outputs = {}
    for name, arguments in commands.items():
        result = runner.invoke(app, arguments)
        assert result.exit_code == 0, (name, result.output)
        outputs[name] = result.output
    kit_samples = sorted(p.name for p in (tmp_path / "kit" / "samples").glob("*.wav"))
    assert kit_samples[:4] == ["36_kick.wav", "37_rim.wav", "38_snare.wav", "39_clap.wav"] and len(kit_samples) == 14
    assert sf.info(tmp_path / "kit" / "samples" / "36_kick.wav").subtype == "PCM_24"
    assert (tmp_path / "kit" / "kit.json").exists() and "14 pads" in outputs["kit"]
    cool = json.loads((tmp_path / "cool" / "samples" / "36_kick.json").read_text())
    assert cool["details"]["temperature"] == 0.5
    assert cool["latent"] != json.loads((tmp_path / "kit" / "samples" / "36_kick.json").read_text())["latent"]
    assert [p.name for p in (tmp_path / "rec").glob("*.wav")] == ["kick.wav"]
    assert "skipped" in outputs["rec"] and "empty.wav" in outputs["rec"]
    assert len(list((tmp_path / "morph").glob("*.wav"))) == 3
    assert len(list((tmp_path / "vars").glob("*.json"))) == 2
    result = runner.invoke(app, ["render", str(tmp_path / "morph" / "morph_01.json"), "--out", str(tmp_path / "again")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "again" / "morph_01.wav").read_bytes() == (tmp_path / "morph" / "morph_01.wav").read_bytes()
    nothing = run_dkvae("reconstruct", str(tmp_path / "empty.wav"), *model, "--out", str(tmp_path / "none"))
    assert nothing.returncode == 2 and "no file could be reconstructed" in nothing.stderr
    odd = run_dkvae("kit", *model, "--bit-depth", "12", "--out", str(tmp_path / "odd"))
    assert odd.returncode == 2 and "bit depth must be one of [16, 24]" in odd.stderr
    assert not (tmp_path / "odd").exists()


def test_import_drumsynth_renders_presets_with_lmms(tmp_path: Path) -> None:
    import shutil

    import pytest

    presets = Path("/usr/share/lmms/samples/drumsynth/tr808")
    if shutil.which("lmms") is None or not presets.is_dir():
        pytest.skip("lmms and lmms-common are not installed")
    source = tmp_path / "drumsynth" / "tr808"
    source.mkdir(parents=True)
    for name in ("Kick.ds", "Snare.ds"):
        shutil.copy(presets / name, source / name)
    out = tmp_path / "bank"
    result = runner.invoke(app, ["import", "drumsynth", str(tmp_path / "drumsynth"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "imported 2 sounds" in result.output
    assert sorted(p.relative_to(out).as_posix() for p in out.glob("*/*.wav")) == ["kick/tr808__Kick.wav", "snare/tr808__Snare.wav"]


def test_import_soundfont_renders_drum_kits(tmp_path: Path) -> None:
    import pytest

    font = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")
    if not font.exists():
        pytest.skip("timgm6mb-soundfont is not installed")
    out = tmp_path / "bank"
    result = runner.invoke(app, ["import", "soundfont", str(font), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "imported 573 sounds from 7 kits" in result.output
    missing = run_dkvae("import", "soundfont", str(tmp_path / "none.sf2"), "--out", str(out))
    assert missing.returncode == 2 and missing.stderr.startswith("error:")


def test_import_folder_links_sorted_files_and_lists_the_rest(tmp_path: Path) -> None:
    import soundfile as sf

    from .conftest import drum_hit

    library = tmp_path / "Samples"
    (library / "808 Kit").mkdir(parents=True)
    sf.write(library / "808 Kit" / "BD 01.wav", drum_hit("tone", 0.2), 44100)
    sf.write(library / "808 Kit" / "mystery.wav", drum_hit("noise", 0.2), 44100)
    out = tmp_path / "bank"
    result = runner.invoke(app, ["import", "folder", str(library), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "imported 1 sounds" in result.output and "mystery" in result.output
    linked = out / "kick" / "808_Kit__BD_01.wav"
    assert linked.is_symlink() and linked.resolve() == (library / "808 Kit" / "BD 01.wav").resolve()
    assert "808 Kit/mystery.wav" in (out / "unsorted.csv").read_text()


def test_import_debian_without_packages_prints_the_install_line(tmp_path: Path, monkeypatch) -> None:
    from dkvae.importers import debian

    monkeypatch.setattr(debian, "is_installed", lambda package: False)
    result = runner.invoke(app, ["import", "debian", "--out", str(tmp_path / "drums")])
    assert isinstance(result.exception, DkvaeError)  # main() turns it into one line and exit code 2
    assert "apt-get install --no-install-recommends" in str(result.exception)
    assert "hydrogen-drumkits" in str(result.exception) and not (tmp_path / "drums").exists()


def test_import_sfz_from_the_command_line(tmp_path: Path) -> None:
    from .importers.test_sfz import write_sound

    write_sound(tmp_path / "kit" / "samples" / "kick.wav", 1)
    write_sound(tmp_path / "kit" / "samples" / "snare.wav", 2)
    (tmp_path / "kit" / "kit.sfz").write_text("<region> sample=samples/kick.wav key=36\n<region> sample=samples/snare.wav key=38\n")
    out = tmp_path / "bank"
    result = runner.invoke(app, ["import", "sfz", str(tmp_path / "kit" / "kit.sfz"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "imported 2 sounds" in result.output
    assert sorted(p.parent.name for p in out.glob("*/*.wav")) == ["kick", "snare"]
