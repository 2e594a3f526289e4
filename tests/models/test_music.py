"""FluidSynth rendering (deterministic, float WAV), the soundfont lookup, and the packaged bed library."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from models.base import EngineUnavailable
from models.music import DEBIAN_SOUNDFONTS, SOUNDFONT_ENV, FluidSynth, bed_library, find_soundfont


@pytest.fixture
def synth() -> FluidSynth:
    s = FluidSynth()
    if not s.available():
        pytest.skip("fluidsynth or a General MIDI soundfont is not installed (make setup)")
    return s


@pytest.fixture
def tiny_midi(tmp_path: Path) -> Path:
    pretty_midi = pytest.importorskip("pretty_midi")
    pm = pretty_midi.PrettyMIDI(initial_tempo=120)
    piano = pretty_midi.Instrument(program=0, name="piano")
    drums = pretty_midi.Instrument(program=0, is_drum=True, name="drums")
    for i, pitch in enumerate((60, 64, 67, 72)):
        piano.notes.append(pretty_midi.Note(velocity=90, pitch=pitch, start=i * 0.25, end=i * 0.25 + 0.4))
        drums.notes.append(pretty_midi.Note(velocity=80, pitch=42, start=i * 0.25, end=i * 0.25 + 0.1))
    pm.instruments += [piano, drums]
    path = tmp_path / "tiny.mid"
    pm.write(str(path))
    return path


def test_soundfont_named_but_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SOUNDFONT_ENV, raising=False)
    with pytest.raises(EngineUnavailable, match=r"does not exist.*make setup.*DUBLINE_SOUNDFONT"):
        find_soundfont(tmp_path / "nope.sf2")
    monkeypatch.setenv(SOUNDFONT_ENV, str(tmp_path / "also-nope.sf2"))
    with pytest.raises(EngineUnavailable, match="also-nope.sf2"):
        find_soundfont()
    assert FluidSynth(tmp_path / "nope.sf2").available() is False


def test_a_file_that_is_no_soundfont_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "fake.sf2"
    fake.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    with pytest.raises(EngineUnavailable, match="not a SoundFont 2"):
        find_soundfont(fake)


def test_debian_soundfont_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SOUNDFONT_ENV, raising=False)
    present = [p for p in DEBIAN_SOUNDFONTS if p.is_file()]
    if not present:
        pytest.skip("no Debian General MIDI soundfont installed")
    assert find_soundfont() == present[0]


def test_missing_program(tiny_midi: Path, tmp_path: Path) -> None:
    s = FluidSynth(binary="no-such-fluidsynth")
    assert not s.available()
    with pytest.raises(EngineUnavailable, match="make setup"):
        s.render(tiny_midi, tmp_path / "out.wav")


def test_render_is_deterministic_float_stereo(synth: FluidSynth, tiny_midi: Path, tmp_path: Path) -> None:
    import numpy as np
    import soundfile as sf

    a = synth.render(tiny_midi, tmp_path / "a.wav", rate=48000)
    b = synth.render(tiny_midi, tmp_path / "b.wav", rate=48000)
    info = sf.info(str(a))
    assert (info.samplerate, info.channels, info.subtype) == (48000, 2, "FLOAT")
    data, _ = sf.read(str(a), dtype="float32")
    again, _ = sf.read(str(b), dtype="float32")
    assert np.array_equal(data, again)  # the same samples (the header's PEAK chunk has the time of writing)
    assert np.max(np.abs(data)) > 0.01  # there is sound
    cmd = synth.command(tiny_midi, tmp_path / "c.wav", 48000)
    assert isinstance(cmd, list) and cmd[cmd.index("-r") + 1] == "48000" and cmd[cmd.index("-O") + 1] == "float"


def test_info_records_soundfont_hash(synth: FluidSynth) -> None:
    info = synth.info
    assert info.id == f"fluidsynth+{synth.soundfont.resolve().stem}"
    assert re.fullmatch(r"\d+\.\d+(\.\d+)?", info.version)
    assert re.fullmatch(r"[0-9a-f]{64}", info.sha256)


def test_bed_library_tracks_and_licence() -> None:
    try:
        lib = bed_library()
    except EngineUnavailable as e:
        pytest.skip(f"immich-memories-music is not installed: {e}")
    assert lib.licence == "MIT"
    assert "ACE-Step" in lib.generator and "ACE-Step" in lib.origin
    calm = lib.tracks("calm")
    assert calm and all(t.path.suffix == ".opus" and t.mood == "calm" for t in calm)
    assert all(t.bpm and t.key and t.seed is not None for t in lib.tracks())  # each listed in LICENSE-MUSIC
    assert {t.mood for t in lib.tracks()} == {"happy", "calm", "tender", "nostalgic", "energetic"}
    with pytest.raises(ValueError, match="unknown library mood"):
        lib.tracks("gloomy")
