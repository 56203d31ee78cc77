from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

import dkvae.data.bank
import dkvae.data.preprocess
from dkvae import Bank, DkvaeError
from dkvae.core.config import SplitConfig, get_preset
from dkvae.data.bank import SPLITS, processed_dir_for, split_for

from ..conftest import drum_hit, write_bank


def processed_files(bank: Bank) -> dict[str, bytes]:
    """Every file of a processed bank by name (the CSVs without the machine-dependent columns)."""
    files = {}
    for path in sorted(bank.dir.iterdir()):
        if path.suffix == ".csv":
            frame = pd.read_csv(path, keep_default_na=False).drop(columns=["mtime_ns"], errors="ignore")
            files[path.name] = frame.to_csv(index=False).encode()
        elif path.is_file():
            files[path.name] = path.read_bytes()
    return files


def count_loads(monkeypatch) -> list[str]:
    """Record the paths the preprocessor decodes (single worker, so calls happen in this process)."""
    loaded: list[str] = []
    original = dkvae.data.preprocess.load_sound

    def counting(path, config):
        loaded.append(Path(path).name)
        return original(path, config)

    monkeypatch.setattr(dkvae.data.preprocess, "load_sound", counting)
    return loaded


def test_seed_api_on_a_small_bank(small_bank: Path) -> None:
    bank = Bank(small_bank, workers=1)
    assert bank.id == "bank"
    assert bank.original_dir == small_bank.resolve()
    assert bank.dir == processed_dir_for(small_bank.resolve()) == small_bank.resolve().parent / "bank_"
    assert bank.instruments == ["kick", "snare"]
    assert bank.is_processed()
    assert list(bank.data.columns[:7]) == ["sample", "path", "original_path", "label", "split", "min_value", "max_value"]
    assert len(bank.data) == 12
    assert bank.read_data().equals(bank.data)
    x_train, y_train, x_test, y_test, x_val, y_val = bank.load_spectrograms()
    assert sum(len(x) for x in (x_train, x_test, x_val)) == 12
    for x, y, split in ((x_train, y_train, "train"), (x_test, y_test, "test"), (x_val, y_val, "val")):
        assert x.shape[1:] == (513, 128) and x.dtype == np.float16
        assert len(x) == len(y) == (bank.data["split"] == split).sum()
        assert set(y) <= {0, 1}
    assert isinstance(x_train, np.memmap)  # a view of the file, not a copy in memory
    assert 0 <= float(x_train.min()) and float(x_train.max()) <= 1
    assert bank.load_spectograms is not None and Bank.get_log_spectogram is Bank.get_log_spectrogram
    assert Bank.spectogram_to_audio is Bank.spectrogram_to_audio
    assert Bank.match_length(np.ones(10, np.float32), 4).shape == (4,)
    spectrogram = Bank.get_log_spectogram(drum_hit("tone", 0.74))
    normalized, low, high = Bank.normalize(spectrogram)
    assert Bank.spectogram_to_audio(normalized, None, low, high).shape == (32512,)


def test_labels_and_spectrograms_line_up_with_the_sources(small_bank: Path) -> None:
    bank = Bank(small_bank, workers=1)
    x_train, y_train, *_ = bank.load_spectrograms()
    from dkvae.sound.audio import load_sound, log_spectrogram, normalize

    row = bank.data[bank.data["split"] == "train"].iloc[3]
    sound, _ = load_sound(small_bank / row["original_path"], bank.config.audio)
    expected, _, _ = normalize(log_spectrogram(sound, 1024, 256).numpy(), bank.config.audio)
    np.testing.assert_allclose(x_train[row["index"]], expected, atol=1e-3)
    assert bank.instruments[y_train[row["index"]]] == row["label"]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_first_run_with_skipped_files_packs_its_staging_array_in_place(tmp_path: Path, monkeypatch, workers) -> None:
    bank_dir = write_bank(tmp_path / "bank", per_class=40)
    for broken in ("kick/kick_3.wav", "kick/kick_17.wav", "snare/snare_0.wav", "snare/snare_39.wav"):
        (bank_dir / broken).write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")

    def no_copy(*args: object) -> bytes:
        raise AssertionError("a first run's rows are not copied")

    monkeypatch.setattr(dkvae.data.bank.PackedRows, "read_bytes", no_copy)
    bank = Bank(bank_dir, preset="seed", workers=workers)
    assert len(bank.data) == 76 and len(bank.read_skipped()) == 4
    files = {p.name for p in bank.dir.iterdir() if not p.name.startswith(".")}  # (.lock stays)
    assert files == {"config.json", bank.data["path"].iloc[0], "samples.csv", "skipped.csv"}
    packed = np.load(bank.array_path)
    assert packed.shape == (76, *bank.config.audio.shape)
    from dkvae.sound.audio import load_sound, log_spectrogram, normalize

    for row in bank.data.itertuples():
        sound, _ = load_sound(bank_dir / row.original_path, bank.config.audio)
        expected, _, _ = normalize(log_spectrogram(sound, 512, 256).numpy(), bank.config.audio)
        np.testing.assert_array_equal(packed[row.index], expected.astype(np.float16))


def test_splits_are_deterministic_by_hash_and_near_their_fractions() -> None:
    keys = [f"kick/sound_{i}.wav" for i in range(20000)]
    splits = Bank.test_train_val(keys, SplitConfig(test=0.10, val=0.05))
    assert splits == [split_for(key, SplitConfig()) for key in keys]
    counts = pd.Series(splits).value_counts(normalize=True)
    assert counts["test"] == pytest.approx(0.10, abs=0.01)
    assert counts["val"] == pytest.approx(0.05, abs=0.01)
    # One key's split does not depend on any other key.
    assert Bank.test_train_val(keys[::-1][:50]) == splits[::-1][:50]


def test_a_bank_of_odd_formats_keeps_every_good_file_and_skips_every_broken_one(tmp_path: Path) -> None:
    root = tmp_path / "odd bank"
    (root / "kick").mkdir(parents=True)
    (root / "snäre drums").mkdir()
    (root / ".hidden-class").mkdir()
    hit, noise = drum_hit("tone", 0.4), drum_hit("noise", 0.3)
    good = {
        "kick/8bit.wav": (hit, 22050, "PCM_U8"),
        "kick/24bit 96k.flac": (hit, 96000, "PCM_24"),
        "kick/sub dir/float.wav": (np.stack([hit, hit, hit, hit], 1), 48000, "FLOAT"),
        "kick/ünïcode ñame.aiff": (hit, 44100, "PCM_16"),
        "snäre drums/vorbis.ogg": (noise, 32000, "VORBIS"),
        "snäre drums/UPPER.WAV": (noise, 11025, "PCM_32"),
        "snäre drums/mp3 file.mp3": (noise, 44100, "MPEG_LAYER_III"),
    }
    for name, (data, rate, subtype) in good.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        sf.write(root / name, data, rate, subtype=subtype)
    (root / "kick/empty.wav").write_bytes(b"")
    (root / "kick/not audio.wav").write_text("hello")
    sf.write(root / "kick/silent.flac", np.zeros(22050), 44100)
    sf.write(root / "kick/nan.wav", np.full(4000, np.nan, np.float32), 44100, subtype="FLOAT")
    sf.write(root / "kick/click.wav", np.r_[np.ones(100), np.zeros(5000)], 44100)
    truncated = (root / "kick/8bit.wav").read_bytes()
    (root / "kick/truncated.wav").write_bytes(truncated[: len(truncated) // 2])
    sf.write(root / "loose.wav", hit, 44100)
    (root / "kick/readme.txt").write_text("not a sound")
    (root / "kick/.DS_Store").write_bytes(b"\0\1")
    sf.write(root / ".hidden-class/h.wav", hit, 44100)

    bank = Bank(root, workers=2)
    assert sorted(bank.data["original_path"]) == sorted(good)
    skipped = bank.read_skipped().set_index("file")["reason"]
    assert sorted(skipped.index) == sorted(
        ["kick/empty.wav", "kick/not audio.wav", "kick/silent.flac", "kick/nan.wav", "kick/click.wav",
         "kick/truncated.wav", "loose.wav"]
    )  # fmt: skip
    assert skipped["kick/silent.flac"].startswith("silent")
    assert skipped["kick/nan.wav"].startswith("invalid")
    assert skipped["kick/click.wav"].startswith("too short")
    assert skipped["kick/truncated.wav"].startswith("truncated")
    assert skipped["kick/empty.wav"].startswith("cannot decode")
    assert skipped["loose.wav"] == "not inside a class folder"
    assert bank.instruments == ["kick", "snäre drums"]
    assert bank.is_processed()


def test_incremental_run_processes_only_new_or_changed_files_and_drops_deleted(small_bank, monkeypatch) -> None:
    first = Bank(small_bank, workers=1)
    splits_before = dict(zip(first.data["original_path"], first.data["split"]))
    loaded = count_loads(monkeypatch)

    sf.write(small_bank / "kick" / "new one.wav", drum_hit("tone", 0.3, seed=99), 44100)
    (small_bank / "snare" / "snare_0.wav").unlink()
    sf.write(small_bank / "snare" / "snare_1.wav", drum_hit("noise", 0.25, seed=77), 44100)
    second = Bank(small_bank, workers=1)
    assert sorted(loaded) == ["new one.wav", "snare_1.wav"]
    assert "snare/snare_0.wav" not in set(second.data["original_path"])
    assert len(second.data) == 12
    for path, split in zip(second.data["original_path"], second.data["split"]):
        if path in splits_before:
            assert split == splits_before[path]

    loaded.clear()
    third = Bank(small_bank, workers=1)
    assert loaded == []
    assert third.data.equals(second.data)
    assert len(list(third.dir.glob("spectrograms-*.npy"))) == 1
    assert not (third.dir / "parts").exists()

    # The same files processed from scratch give exactly the same processed bank.
    shutil.rmtree(third.dir)
    assert processed_files(Bank(small_bank, workers=2)) == processed_files(third)


def test_a_bank_processed_with_other_settings_is_reprocessed_not_mixed(small_bank) -> None:
    default = Bank(small_bank, workers=1)
    assert default.load_spectrograms()[0].shape[1:] == (513, 128)
    seed = Bank(small_bank, preset="seed", workers=1)
    assert seed.config.preset == "seed"
    assert seed.load_spectrograms()[0].shape[1:] == (257, 64)
    assert len(list(seed.dir.glob("spectrograms-*.npy"))) == 1
    # Without a preset, a processed bank keeps the settings it was made with.
    again = Bank(small_bank, process=False)
    assert again.config.same_data(get_preset("seed")) and again.is_processed()
    assert not Bank(small_bank, preset="default", process=False).is_processed()


def test_user_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(DkvaeError, match="bank folder not found"):
        Bank(tmp_path / "missing")
    (tmp_path / "flat").mkdir()
    sf.write(tmp_path / "flat" / "a.wav", drum_hit("tone", 0.2), 44100)
    with pytest.raises(DkvaeError, match="no class folders"):
        Bank(tmp_path / "flat")
    write_bank(tmp_path / "blocked")
    (tmp_path / "blocked_").write_text("a file where the processed folder should go")
    with pytest.raises(DkvaeError, match="cannot write the processed bank"):
        Bank(tmp_path / "blocked")


def test_a_failed_commit_leaves_the_previous_state_and_a_rerun_finishes_it(small_bank, monkeypatch) -> None:
    before = Bank(small_bank, workers=1)
    state = processed_files(before)
    sf.write(small_bank / "kick" / "added.wav", drum_hit("tone", 0.3, seed=42), 44100)

    original_to_csv = pd.DataFrame.to_csv

    def failing_to_csv(self, path=None, *args, **kwargs):
        if path is not None and "samples.csv" in str(path):
            raise KeyboardInterrupt("stopped while committing")
        return original_to_csv(self, path, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_csv", failing_to_csv)
    with pytest.raises(KeyboardInterrupt):
        Bank(small_bank, workers=1)
    monkeypatch.undo()
    interrupted = Bank(small_bank, process=False)
    assert processed_files(interrupted)["samples.csv"] == state["samples.csv"]
    assert not interrupted.is_processed()
    assert len(interrupted.load_spectrograms()[0]) == (before.data["split"] == "train").sum()

    resumed = Bank(small_bank, workers=1)
    shutil.copytree(small_bank, small_bank.parent / "clean")
    clean = Bank(small_bank.parent / "clean", workers=1)
    assert processed_files(resumed) == processed_files(clean)


KILL_SCRIPT = """
import sys
from dkvae import Bank
Bank(sys.argv[1], workers=int(sys.argv[2]))
"""


@pytest.mark.parametrize("workers", [1, 2])
def test_killing_preprocessing_and_running_it_again_gives_the_uninterrupted_result(tmp_path, workers) -> None:
    bank = write_bank(tmp_path / "bank", per_class=160, classes=("kick", "snare", "hihat"))
    parts = processed_dir_for(bank) / "parts"
    process = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(bank), str(workers)], start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(parts.glob("*.json"))) < 3 and process.poll() is None:
        time.sleep(0.01)
    assert process.poll() is None, "finished before it could be killed: make the bank bigger"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not (processed_dir_for(bank) / "samples.csv").exists()
    assert len(list(parts.glob("*.json"))) >= 3
    (parts / ".part-killed.npy.x.tmp").write_bytes(b"half a file")  # as a kill during a write leaves

    resumed = Bank(bank, workers=workers)
    clean_copy = shutil.copytree(bank, tmp_path / "clean" / "bank")
    clean = Bank(clean_copy, workers=workers)
    assert processed_files(resumed) == processed_files(clean)
    assert len(resumed.data) == 480
    assert not list(resumed.dir.rglob("*.tmp"))


def test_manifest_columns_and_groups_reach_samples_csv(small_bank) -> None:
    rows = [
        {"original_path": f"kick/kick_{i}.wav", "label": "kick", "source": "test-kit", "license": "CC0",
         "group": "kit/kick" if i < 4 else ""}
        for i in range(6)
    ]  # fmt: skip
    pd.DataFrame(rows).to_csv(small_bank / "manifest.csv", index=False)
    bank = Bank(small_bank, workers=1)
    kicks = bank.data[bank.data["label"] == "kick"].set_index("original_path")
    assert set(kicks["license"]) == {"CC0"}
    assert kicks.loc["kick/kick_0.wav", "group"] == "kit/kick"
    assert kicks.loc["kick/kick_5.wav", "group"] == "kick/kick_5.wav"
    # Every sound of one group lands in the same split.
    assert kicks[kicks["group"] == "kit/kick"]["split"].nunique() == 1
    assert set(bank.data["split"]) <= set(SPLITS)


def test_files_that_are_not_regular_files_are_skipped_without_being_opened(tmp_path: Path, fifo_readers) -> None:
    root = write_bank(tmp_path / "bank", per_class=2)
    readers = fifo_readers(root / "kick" / "x.wav", root / "snare" / "y.flac")
    (root / "kick" / "device.wav").symlink_to("/dev/zero")
    bank = Bank(root, workers=1)
    assert sorted(bank.data["original_path"]) == ["kick/kick_0.wav", "kick/kick_1.wav", "snare/snare_0.wav", "snare/snare_1.wav"]
    skipped = bank.read_skipped().set_index("file")["reason"].to_dict()
    assert skipped == {name: "not a regular file" for name in ["kick/device.wav", "kick/x.wav", "snare/y.flac"]}
    assert readers.count == 0
    assert Bank(root, process=False).is_processed()


def test_a_file_name_that_is_not_utf8_is_skipped_with_its_reason_and_the_bank_stays_usable(tmp_path: Path) -> None:
    root = write_bank(tmp_path / "bank", per_class=2)
    os.rename(root / "kick" / "kick_1.wav", os.fsencode(root / "kick") + b"/kick \xff.wav")
    os.mkdir(os.fsencode(root) + b"/h\xe9hat")
    sf.write(os.fsencode(root) + b"/h\xe9hat/one.wav", drum_hit("noise", 0.3), 44100)
    bank = Bank(root, workers=1)
    assert sorted(bank.data["original_path"]) == ["kick/kick_0.wav", "snare/snare_0.wav", "snare/snare_1.wav"]
    skipped = bank.read_skipped().set_index("file")["reason"].to_dict()
    assert skipped == {
        "h\\xe9hat/one.wav": "file name is not valid UTF-8",
        "kick/kick \\xff.wav": "file name is not valid UTF-8",
    }
    again = Bank(root, process=False)
    assert again.is_processed() and again.instruments == ["kick", "snare"]
    assert len(again.load_spectrograms()[0]) + len(again.load_spectrograms()[2]) + len(again.load_spectrograms()[4]) == 3


@pytest.mark.parametrize(
    "config_json",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"preset": "default", "audio": {"sample_rate": 1}, "split": {}}',
        '{"preset": "default", "audio": {"fade_out": NaN}, "split": {}}',
        '{"preset": "default", "audio": {}, "split": {"test": NaN}}',
    ],
    ids=["deep", "sample rate 1", "NaN fade", "NaN split"],
)
def test_a_tampered_bank_config_is_not_used(small_bank: Path, config_json: str) -> None:
    Bank(small_bank, workers=1)
    (processed_dir_for(small_bank.resolve()) / "config.json").write_text(config_json)
    bank = Bank(small_bank, workers=1)
    assert bank.config == get_preset("default") and bank.is_processed()
