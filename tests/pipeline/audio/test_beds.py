"""Beds from a spec: composed, library, ambience, the user's own file; the spec's errors; the ident."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from models.registry import sha256_file
from pipeline.audio.beds import Bed, ident, make_bed, parse_bed_spec
from pipeline.core.errors import InputError

RATE = 48000


def _needs_fluidsynth() -> None:
    pytest.importorskip("pretty_midi")
    pytest.importorskip("music21")
    from models.music import FluidSynth

    if not FluidSynth().available():
        pytest.skip("fluidsynth or a General MIDI soundfont is not installed (make setup)")


def _check_wav(bed: Bed, seconds: float) -> np.ndarray:
    info = sf.info(str(bed.path))
    assert (info.samplerate, info.channels, info.subtype) == (RATE, 2, "FLOAT")
    assert info.frames == round(seconds * RATE)
    assert bed.provenance["sha256"] == sha256_file(bed.path)
    for field in ("generated", "source", "licence", "origin", "parameters"):
        assert field in bed.provenance, field
    data, _ = sf.read(str(bed.path))
    return np.asarray(data)


def _lufs(path: Path) -> float:
    from pipeline.audio.loudness import measure

    return measure(path).integrated_lufs


def test_parse_bed_spec(tmp_path: Path) -> None:
    assert parse_bed_spec("compose:calm").kind == "compose"
    assert parse_bed_spec("library:sad").name == "sad"
    assert parse_bed_spec("ambience:rain").name == "rain"
    own = tmp_path / "mine.wav"
    own.write_bytes(b"x")
    assert parse_bed_spec(str(own)).path == own
    assert parse_bed_spec(f"file:{own}").path == own
    with pytest.raises(InputError, match="unknown mood 'happy'.*calm, bright, tense, sad"):
        parse_bed_spec("compose:happy")
    with pytest.raises(InputError, match="unknown mood 'joyful'"):
        parse_bed_spec("library:joyful")
    with pytest.raises(InputError, match="unknown ambience kind 'fire'.*room, rain, wind, crowd, city"):
        parse_bed_spec("ambience:fire")
    with pytest.raises(InputError, match="unknown bed kind 'jingle'.*compose:MOOD"):
        parse_bed_spec("jingle:calm")
    with pytest.raises(InputError, match="does not exist"):
        parse_bed_spec(str(tmp_path / "missing.wav"))
    with pytest.raises(InputError, match="empty"):
        parse_bed_spec("  ")


def test_bad_length_and_destination(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="over the limit"):
        make_bed("ambience:room", 601.0, tmp_path / "x.wav")
    with pytest.raises(InputError, match="more than 0"):
        make_bed("ambience:room", 0.0, tmp_path / "x.wav")
    with pytest.raises(InputError, match=r"not a \.wav"):
        make_bed("ambience:room", 2.0, tmp_path / "x.mp3")


def test_composed_bed(tmp_path: Path) -> None:
    _needs_fluidsynth()
    bed = make_bed("compose:sad", 5.0, tmp_path / "sad-bed.wav", seed=2)
    _check_wav(bed, 5.0)
    p = bed.provenance
    assert p["generated"] is True and p["source"].startswith("dubline.compose")
    assert p["parameters"]["mood"] == "sad" and p["parameters"]["seed"] == 2
    assert p["composition"]["engine"]["id"].startswith("fluidsynth+")
    assert {f.suffix for f in bed.files} == {".mid", ".musicxml"} and all(f.is_file() for f in bed.files)
    assert abs(_lufs(bed.path) + 30.0) <= 1.0


def test_ambience_bed(tmp_path: Path) -> None:
    bed = make_bed("ambience:rain", 3.0, tmp_path / "rain.wav", seed=4)
    _check_wav(bed, 3.0)
    assert bed.provenance["generated"] is True and bed.provenance["source"] == "dubline.ambience"
    assert bed.provenance["parameters"]["kind"] == "rain"


def test_library_bed_loops_to_length(tmp_path: Path) -> None:
    from models.base import EngineUnavailable
    from models.music import bed_library

    try:
        bed_library()
    except EngineUnavailable as e:
        pytest.skip(f"immich-memories-music is not installed: {e}")
    bed = make_bed("library:calm", 40.0, tmp_path / "calm.wav", seed=1)  # the tracks are about 30 s
    data = _check_wav(bed, 40.0)
    p = bed.provenance
    assert p["generated"] is True and "ACE-Step" in p["generator"] and "ACE-Step" in p["origin"]
    assert p["licence"] == "MIT" and p["source"].startswith("immich-memories-music")
    assert p["parameters"]["library_mood"] == "calm"
    assert abs(_lufs(bed.path) + 30.0) <= 1.0
    block = RATE // 2
    levels = np.sqrt(np.mean(data[: len(data) // block * block].mean(axis=1).reshape(-1, block) ** 2, axis=1))
    assert levels[4:-4].min() > 0.05 * np.median(levels)  # no gap where the track loops
    other = make_bed("library:calm", 5.0, tmp_path / "calm2.wav", seed=2)
    assert other.provenance["source"] != p["source"]  # the seed picks the track
    bright = make_bed("library:bright", 5.0, tmp_path / "bright.wav", seed=0)
    assert bright.provenance["parameters"]["library_mood"] in ("happy", "energetic")


def test_user_file_bed(tmp_path: Path) -> None:
    own = tmp_path / "mine.flac"
    t = np.arange(int(2.5 * 22050)) / 22050
    sf.write(str(own), (0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32), 22050)
    bed = make_bed(str(own), 6.0, tmp_path / "bed.wav")
    data = _check_wav(bed, 6.0)
    p = bed.provenance
    assert p["generated"] is False and p["input_sha256"] == sha256_file(own) and str(own) in p["origin"]
    assert abs(_lufs(bed.path) + 30.0) <= 1.0
    assert np.abs(data[0]).max() < 1e-3 and np.abs(data[-1]).max() < 1e-3  # faded in and out
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("not audio")
    with pytest.raises(InputError, match="notes.wav"):
        make_bed(str(not_audio), 3.0, tmp_path / "bed2.wav")


def test_ident(tmp_path: Path) -> None:
    _needs_fluidsynth()
    bed = ident("calm", dest=tmp_path / "ident.wav", seed=1)
    _check_wav(bed, 6.0)
    assert bed.spec == "ident:calm" and bed.provenance["parameters"]["form"] == "ident"
    with pytest.raises(InputError, match="unknown mood"):
        ident("happy", dest=tmp_path / "x.wav")
