"""Marking in the mix stage (the dub track carries the mark, the loudness profile still holds) and reading
marks back from delivered files (every audio stream; clear errors for bad input)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from pipeline.audio import loudness, media
from pipeline.core.config import Settings
from pipeline.core.errors import InputError
from pipeline.core.stagerun import open_settings_store
from pipeline.ledger import marking
from pipeline.ledger import watermark as wm
from pipeline.ledger import watermark_detect as wmd
from pipeline.ledger import watermark_embed as wme
from pipeline.stages.contracts import Ingested, Separated, SpeechTrack

RATE = 48000


def speechlike(seconds: float, seed: int) -> np.ndarray:
    """Voiced 'syllables' with harmonics under moving formants, with pauses."""
    rng = np.random.default_rng(seed)
    out = np.zeros(int(seconds * RATE))
    t = 0.3
    while t < seconds - 0.5:
        dur = rng.uniform(0.12, 0.35)
        k = np.arange(int(dur * RATE)) / RATE
        f0 = rng.uniform(95, 210)
        formants = rng.uniform([300, 900, 2200], [800, 2200, 3200])
        syl = sum(
            (sum(np.exp(-(((h * f0 - fm) / 180) ** 2)) for fm in formants) + 0.02)
            * np.sin(2 * np.pi * h * f0 * k)
            / h**0.5
            for h in range(1, int(7500 / f0))
        )
        i0 = int(t * RATE)
        out[i0 : i0 + len(k)] += syl * np.sin(np.pi * k / dur) ** 0.5
        t += dur + (rng.uniform(0.3, 0.9) if rng.random() < 0.25 else rng.uniform(0.02, 0.08))
    return out / np.max(np.abs(out)) * 0.3


def bed(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    x = sum(np.sin(2 * np.pi * f * t) / (i + 1) for i, f in enumerate((110, 220, 330, 440, 660, 1320, 2640)))
    return np.stack([x, np.roll(x, 100)], axis=1) * 0.02


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


def _stage_inputs(settings: Settings, tmp_path: Path, seconds: float = 14.0) -> tuple[Ingested, Separated, SpeechTrack]:
    store = open_settings_store(settings)
    sf.write(str(tmp_path / "bed.wav"), bed(seconds), RATE)
    sf.write(str(tmp_path / "dub.wav"), speechlike(seconds, 3), RATE)
    bed_uri = store.put_file("stages/separate/k/bed.wav", tmp_path / "bed.wav")
    dub_uri = store.put_file("stages/fit/k/dub.wav", tmp_path / "dub.wav")
    ingested = Ingested(
        source_uri=bed_uri,
        source_sha256="a" * 64,
        filename="x.wav",
        stem="x",
        duration=seconds,
        has_video=False,
        asr_audio_uri=bed_uri,
        full_audio_uri=bed_uri,
        script_uri=bed_uri,
    )
    separated = Separated(method="test", bed_uri=bed_uri)
    fitted = SpeechTrack(language="es", key="fitkey", dub_speech_uri=dub_uri, spans=[(0.3, seconds - 0.5)])
    return ingested, separated, fitted


def test_mix_marks_the_dub_track_and_keeps_the_loudness_profile(settings: Settings, tmp_path: Path) -> None:
    from pipeline.stages.mix import mix

    r = mix(settings, *_stage_inputs(settings, tmp_path), "ebu_r128")
    mark = r.watermark
    assert mark is not None
    assert mark["payload"] == marking.payload_for(r.key) and mark["scheme"] == wm.SCHEME
    assert mark["snr_db"] >= 25.0
    assert r.loudness["meets"], r.loudness
    path = open_settings_store(settings).local_path(r.mix_uri.split("/store/", 1)[1], tmp_path / "dl")
    audio, rate = sf.read(str(path), dtype="float32")
    assert wmd.decode(audio, rate, settings.watermark_key.get_secret_value()).payload == mark["payload"]
    m = loudness.measure(path)
    assert m.true_peak_dbtp <= loudness.profile("ebu_r128").true_peak + 0.05
    assert r.dub_stem_uri is not None
    stem = open_settings_store(settings).local_path(r.dub_stem_uri.split("/store/", 1)[1], tmp_path / "dl")
    audio, rate = sf.read(str(stem), dtype="float32")  # the dub speech delivered as a stem is marked too
    assert wmd.decode(audio, rate, settings.watermark_key.get_secret_value()).payload == mark["payload"]


def test_watermark_off_leaves_the_track_unmarked(settings: Settings, tmp_path: Path) -> None:
    from pipeline.stages.mix import mix

    off = settings.model_copy(update={"watermark": False})
    r = mix(off, *_stage_inputs(off, tmp_path), "ebu_r128")
    assert r.watermark is None and r.dub_stem_uri is None
    path = open_settings_store(off).local_path(r.mix_uri.split("/store/", 1)[1], tmp_path / "dl")
    audio, rate = sf.read(str(path), dtype="float32")
    assert not wmd.decode(audio, rate, off.watermark_key.get_secret_value()).present


def test_peak_trim() -> None:
    prof = loudness.profile("ebu_r128")
    m = loudness.Measurement(-23.0, 5.0, -0.7, -20.0, -1.0)
    assert marking._peak_trim(m, prof) == pytest.approx(-0.35)
    assert marking._peak_trim(loudness.Measurement(-23.0, 5.0, -1.2, -20.0, -1.5), prof) == 0.0


@pytest.fixture(scope="module")
def delivered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """An mp4 (a picture, the original track, one marked dub track) and an m4a, as mux builds them."""
    d = tmp_path_factory.mktemp("delivered")
    key = Settings().watermark_key.get_secret_value()
    original = (bed(12) * 10 + speechlike(12, 8)[:, None] * 0.5).astype(np.float32)
    dub = (bed(12) * 5 + speechlike(12, 9)[:, None] * 0.6).astype(np.float32)
    sf.write(str(d / "original.wav"), original, RATE)
    sf.write(str(d / "dub.wav"), wme.embed(dub, RATE, 0x1234ABCD, key), RATE)
    picture = d / "picture.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=blue:s=160x120:r=10:d=12"]
        + ["-c:v", "libx264", "-pix_fmt", "yuv420p", str(picture)],
        check=True,
    )
    tracks = [(d / "original.wav", "eng", "Original (en)"), (d / "dub.wav", "spa", "Dub (es)")]
    return {
        "mp4": media.mux(picture, tracks, d / "dub.mp4", 12.0),
        "m4a": media.mux(None, tracks[1:], d / "dub.m4a", 12.0),
        "picture": picture,
        "dir": d,
    }


def test_detect_reads_every_audio_stream(settings: Settings, delivered: dict[str, Any]) -> None:
    first, second = marking.detect_file(settings, str(delivered["mp4"]))
    assert (first.language, first.detection.present, first.detection.payload) == ("eng", False, None)
    assert (second.language, second.detection.present, second.detection.payload) == ("spa", True, 0x1234ABCD)
    assert second.codec == "aac" and second.seconds == pytest.approx(12.0, abs=0.1)
    (only,) = marking.detect_file(settings, delivered["m4a"].as_uri())
    assert only.detection.payload == 0x1234ABCD


def test_detect_errors_are_one_clear_line(settings: Settings, delivered: dict[str, Any]) -> None:
    with pytest.raises(InputError, match="no such file"):
        marking.detect_file(settings, str(delivered["dir"] / "nope.mp4"))
    text = delivered["dir"] / "notes.txt"
    text.write_text("not media")
    with pytest.raises(InputError, match="not a media file"):
        marking.detect_file(settings, str(text))
    with pytest.raises(InputError, match="has no audio stream"):
        marking.detect_file(settings, str(delivered["picture"]))
    with pytest.raises(InputError, match="is not a file"):
        marking.detect_file(settings, str(delivered["dir"]))


def test_a_mix_on_another_bed_is_not_reused(settings: Settings, tmp_path: Path) -> None:
    """The mix's content key covers the bed it was made on: separating again (e.g. Spleeter instead of the
    DSP fallback) makes a new mix instead of reusing the one on the old bed."""
    from pipeline.stages.mix import mix

    ingested, separated, fitted = _stage_inputs(settings, tmp_path)
    first = mix(settings, ingested, separated, fitted, "ebu_r128")
    store = open_settings_store(settings)
    other_bed = store.put_file("stages/separate/k2/bed.wav", tmp_path / "bed.wav")
    second = mix(settings, ingested, separated.model_copy(update={"bed_uri": other_bed}), fitted, "ebu_r128")
    assert not second.cached and second.key != first.key
    again = mix(settings, ingested, separated, fitted, "ebu_r128")
    assert again.cached and again.key == first.key


def test_parts_marked_at_their_phase_read_as_one_mark_when_joined(settings: Settings, tmp_path: Path) -> None:
    """An audiobook's m4b joins chapters marked separately: each marked on the grid of the whole (phase = where
    it starts) reads as one mark; the same parts each marked from 0 do not."""
    key = settings.watermark_key.get_secret_value()
    parts = [speechlike(9.3, 11), speechlike(13.1, 12)]
    profile = loudness.profile("none")

    alone: list[np.ndarray] = []

    def joined(phased: bool) -> np.ndarray:
        start, out = 0.0, alone if phased else []
        for n, audio in enumerate(parts):
            path = tmp_path / f"part{n}-{phased}.wav"
            sf.write(str(path), audio, RATE, subtype="FLOAT")
            marking.mark_track(settings, path, 0x1234ABCD, profile, phase_s=start if phased else 0.0)
            out.append(sf.read(str(path), dtype="float32")[0])
            start += len(audio) / RATE
        return np.concatenate(out)

    assert wmd.decode(joined(True), RATE, key).payload == 0x1234ABCD
    assert wmd.decode(joined(False), RATE, key).payload != 0x1234ABCD
    # a part marked at its phase still reads alone (a chapter's own MP3): the detector finds the grid's phase
    assert wmd.decode(alone[1], RATE, key).payload == 0x1234ABCD


@pytest.mark.parametrize(("subtype", "level", "phase_s"), [("PCM_16", 0.9, 0.0), ("FLOAT", 3.0, 2.3)])
def test_mark_track_streams_the_same_samples_as_marking_the_whole_track(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, subtype: str, level: float, phase_s: float
) -> None:
    """mark_track reads and writes the track in blocks (here 5000 samples): the samples are those of the whole
    track marked at once (at its phase, trimmed under the profile's ceiling where the mark lifted the peak), the
    SNR is the same, and no working file is left beside the track."""
    monkeypatch.setattr(marking, "_STEP", 5000)
    key = settings.watermark_key.get_secret_value()
    audio = (np.stack([speechlike(6.0, 21), speechlike(6.0, 22)], axis=1) * level).astype(np.float32)
    path = tmp_path / "track.wav"
    sf.write(str(path), np.clip(audio, -1, 1) if subtype == "PCM_16" else audio, RATE, subtype=subtype)
    original, _ = sf.read(str(path), dtype="float32", always_2d=True)
    profile = loudness.profile("ebu_r128")
    done = marking.mark_track(settings, path, 0x1234ABCD, profile, phase_s=phase_s)
    lead = int(round((phase_s % marking.BLOCK_S) * RATE))
    padded = np.concatenate([np.zeros((lead, 2), dtype=np.float32), original])
    whole = wme.embed(padded, RATE, 0x1234ABCD, key)[lead:]
    assert done.info is not None
    trim = done.info["trim_db"]
    assert (trim < 0) == (level > 1)  # the loud float track was turned down under the ceiling
    expected = np.clip(whole * 10 ** (trim / 20) if trim < 0 else whole, -1.0, 1.0)
    written = path.with_name("expected.wav")
    sf.write(str(written), expected, RATE, subtype=subtype)
    np.testing.assert_array_equal(sf.read(str(path), dtype="float32")[0], sf.read(str(written), dtype="float32")[0])
    assert done.info["snr_db"] == round(wme.mark_snr_db(original, whole), 1)
    assert sf.info(str(path)).subtype == subtype
    assert not list(tmp_path.glob(".*marking*"))  # the marked copy was moved over the track


def test_mark_copy_streams_the_same_samples_as_marking_the_whole_stem(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """mark_copy of a loud float stem: the mark added block by block, the whole scaled back under full scale by
    its peak, as when the stem was marked at once."""
    monkeypatch.setattr(marking, "_STEP", 7000)
    key = settings.watermark_key.get_secret_value()
    stem = (speechlike(5.0, 31) * 4.0).astype(np.float32)
    src, dest = tmp_path / "stem.wav", tmp_path / "marked.wav"
    sf.write(str(src), stem, RATE, subtype="FLOAT")
    info = marking.mark_copy(settings, src, dest, 77)
    whole = wme.embed(stem[:, None], RATE, 77, key)
    peak = float(np.max(np.abs(whole)))
    assert peak > 1.0
    np.testing.assert_array_equal(sf.read(str(dest), dtype="float32", always_2d=True)[0], whole / peak)
    assert info is not None and info["snr_db"] == round(wme.mark_snr_db(stem[:, None], whole), 1)


def test_the_mix_and_its_mark_do_not_depend_on_where_the_data_folder_is(tmp_path: Path) -> None:
    """The same job in a data folder that moved: the same mix key, so the same watermark payload."""
    from pipeline.stages.mix import mix

    keys = []
    for where in ("a", "b/deeper"):
        folder = tmp_path / where
        folder.mkdir(parents=True)
        s = Settings(data_dir=folder / "data")
        r = mix(s, *_stage_inputs(s, folder), "ebu_r128")
        assert r.watermark is not None
        keys.append((r.key, r.watermark["payload"]))
    assert keys[0] == keys[1]
