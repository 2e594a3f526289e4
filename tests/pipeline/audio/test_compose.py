"""Composed beds and idents: the music's rules, determinism, the MIDI and MusicXML files, length, fades, level,
bad input, and the `compose` command."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from pipeline.audio.compose import MAX_SECONDS, MOODS, Composed, compose, compose_ident
from pipeline.audio.compose_score import BEATS_PER_BAR, STYLES, parse_key, plan
from pipeline.core.errors import InputError, SetupError

pytest.importorskip("pretty_midi")
pytest.importorskip("music21")

RATE = 48000


@pytest.fixture(scope="module")
def renders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Composed]:
    """calm 6 s seed 3 twice (in two folders), seed 4 once, and a sad one in F#m."""
    from models.music import FluidSynth

    if not FluidSynth().available():
        pytest.skip("fluidsynth or a General MIDI soundfont is not installed (make setup)")
    root = tmp_path_factory.mktemp("compose")
    return {
        "a": compose("calm", "D", 96.0, 6.0, 3, out_dir=root / "a"),
        "b": compose("calm", "D", 96.0, 6.0, 3, out_dir=root / "b"),
        "other": compose("calm", "D", 96.0, 6.0, 4, out_dir=root / "c"),
        "sad": compose("sad", "F#m", 70.0, 5.0, 1, out_dir=root / "d", stem="sad"),
    }


def _rms_db(x: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(np.square(x, dtype=np.float64))) + 1e-12))


# --- the music (no audio) ----------------------------------------------------------------------------------


@pytest.mark.parametrize("mood", MOODS)
@pytest.mark.parametrize("seed", [0, 7])
def test_piece_follows_its_chords_and_key(mood: str, seed: int) -> None:
    key = parse_key("Eb", STYLES[mood].mode)
    piece = plan(mood, key, 100.0, 20.0, seed)
    assert [p.name for p in piece.parts] == ["Melody", "Chords", "Bass", "Drums"]
    assert [p.is_drum for p in piece.parts] == [False, False, False, True]
    allowed = set(key.scale()) | set(key.scale(harmonic=True))  # a minor key's V takes the raised 7th
    for span in piece.spans:
        assert set(span.chord.pcs) <= allowed, span.chord
    for name in ("Melody", "Chords", "Bass"):
        assert {n.pitch % 12 for n in piece.part(name).notes} <= allowed, name
    # the length: whole bars covering the seconds asked
    bar_s = BEATS_PER_BAR * 60 / 100.0
    assert piece.bars == int(np.ceil(20.0 / bar_s)) and (piece.bars - 1) * bar_s < 20.0
    # melody: chord tones on beats 1 and 3, stepwise (scale steps) in between
    melody = sorted(piece.part("Melody").notes, key=lambda n: n.start)
    assert len(melody) >= piece.bars
    prev = None
    for n in melody:
        if n.start % 2 == 0:
            assert n.pitch % 12 in piece.chord_at(n.start).pcs, (n, piece.chord_at(n.start))
        elif prev is not None:
            assert abs(n.pitch - prev.pitch) <= 3, (prev, n)
        prev = n
    # the ending: the tonic chord, the melody on the tonic, the bass on its root
    final = piece.spans[-1]
    assert final.chord.root == key.pc and final.chord.numeral in ("I", "i")
    assert melody[-1].start == final.start and melody[-1].pitch % 12 == key.pc
    assert piece.part("Bass").notes[-1].pitch % 12 == key.pc
    assert piece.spans[-2].chord.numeral == STYLES[mood].cadence
    assert any(n.start == final.start for n in piece.part("Drums").notes)


def test_moods_sound_different() -> None:
    pieces = {m: plan(m, parse_key("C", STYLES[m].mode), 90.0, 20.0, 0) for m in MOODS}
    assert pieces["calm"].key.mode == pieces["bright"].key.mode == "major"
    assert pieces["tense"].key.mode == pieces["sad"].key.mode == "minor"
    assert len({tuple(p.part("Melody").program for p in [pieces[m]]) for m in MOODS}) == 4
    drums = {m: max(n.velocity for n in p.part("Drums").notes) for m, p in pieces.items()}
    assert max(drums["calm"], drums["sad"]) < min(drums["bright"], drums["tense"])  # gentle for calm and sad


def test_keys() -> None:
    assert parse_key("Am").mode == "minor" and parse_key("Am").pc == 9
    assert parse_key("Bb").pc == 10 and parse_key("Bb").flats
    assert parse_key("c# minor").name == "C# minor"
    assert parse_key("F#m").pc == 6 and parse_key("Eb major").mode == "major"
    assert parse_key("C", "minor").mode == "minor"
    for bad in ("H", "E#", "Cb", "Amaj7", "", "C##"):
        with pytest.raises(InputError, match="unknown key"):
            parse_key(bad)


def test_seed_changes_the_music_but_not_its_rules() -> None:
    key = parse_key("C")
    a, b = plan("bright", key, 100, 20, 1), plan("bright", key, 100, 20, 2)
    assert [n.pitch for n in a.part("Melody").notes] != [n.pitch for n in b.part("Melody").notes]
    again = plan("bright", key, 100, 20, 1)
    assert [(n.start, n.pitch) for n in again.part("Melody").notes] == [
        (n.start, n.pitch) for n in a.part("Melody").notes
    ]


# --- the files -----------------------------------------------------------------------------------------------


def test_same_seed_same_bytes_other_seed_other_music(renders: dict[str, Composed]) -> None:
    a, b, other = renders["a"], renders["b"], renders["other"]
    assert a.wav.read_bytes() == b.wav.read_bytes()
    assert a.midi.read_bytes() == b.midi.read_bytes()
    assert a.musicxml.read_bytes() == b.musicxml.read_bytes()
    assert a.wav.read_bytes() != other.wav.read_bytes()
    assert a.provenance()["files"] == b.provenance()["files"]


def test_wav_length_format_level_and_fades(renders: dict[str, Composed]) -> None:
    from pipeline.audio.loudness import measure

    c = renders["a"]
    info = sf.info(str(c.wav))
    assert (info.samplerate, info.channels, info.subtype, info.frames) == (RATE, 2, "FLOAT", 6 * RATE)
    assert abs(measure(c.wav).integrated_lufs - (-30.0)) <= 1.0
    assert abs(c.loudness["integrated_lufs"] - (-30.0)) <= 1.0
    data, _ = sf.read(str(c.wav))
    body = _rms_db(data[2 * RATE : 4 * RATE])
    assert abs(data[0]).max() < 1e-4 and abs(data[-1]).max() < 1e-4  # faded to nothing at both ends
    assert _rms_db(data[: RATE // 50]) < body - 20  # the first 20 ms: well under the body
    assert _rms_db(data[-RATE // 20 :]) < body - 15  # the last 50 ms
    sad = renders["sad"]
    assert sf.info(str(sad.wav)).frames == 5 * RATE and sad.wav.name == "sad.wav"


def test_midi_has_melody_bass_drums_in_key(renders: dict[str, Composed]) -> None:
    import pretty_midi

    c = renders["sad"]
    pm = pretty_midi.PrettyMIDI(str(c.midi))
    names = {i.name: i for i in pm.instruments}
    assert set(names) == {"Melody", "Chords", "Bass", "Drums"}
    assert names["Drums"].is_drum and not any(names[n].is_drum for n in ("Melody", "Chords", "Bass"))
    assert all(len(i.notes) > 0 for i in pm.instruments)
    key = parse_key("F#m")
    allowed = set(key.scale()) | set(key.scale(harmonic=True))
    pcs = {n.pitch % 12 for i in pm.instruments if not i.is_drum for n in i.notes}
    assert pcs <= allowed
    assert pm.key_signature_changes[0].key_number == 12 + 6  # F# minor
    assert abs(pm.get_tempo_changes()[1][0] - 70.0) < 0.01


def test_musicxml_reparses(renders: dict[str, Composed]) -> None:
    from music21 import converter, harmony, stream

    c = renders["sad"]
    score = converter.parse(str(c.musicxml))
    assert isinstance(score, stream.Score)
    assert [p.partName for p in score.parts] == ["Melody", "Chords", "Bass", "Drums"]
    ks = score.parts[0].recurse().getElementsByClass("KeySignature")[0]
    assert ks.sharps == 3  # F# minor
    assert len(score.parts[0].getElementsByClass("Measure")) == c.bars
    symbols = [s.figure for s in score.parts[0].recurse().getElementsByClass(harmony.ChordSymbol)]
    assert len(symbols) == len(c.chords)
    assert b"encoding-date" not in c.musicxml.read_bytes()


def test_provenance(renders: dict[str, Composed]) -> None:
    p = renders["a"].provenance()
    assert p["generator"] == "dubline.compose" and p["generated"] is True
    assert p["parameters"] == {
        "form": "bed", "mood": "calm", "key": "D", "tempo": 96.0, "seconds": 6.0, "seed": 3, "level_lufs": -30.0
    }  # fmt: skip
    assert p["engine"]["id"].startswith("fluidsynth+") and len(p["soundfont"]["sha256"]) == 64
    assert set(p["files"]) == {"bed.wav", "bed.mid", "bed.musicxml"}


def test_ident_is_short_and_ends_on_a_ringing_tonic(renders: dict[str, Composed], tmp_path: Path) -> None:
    c = compose_ident("bright", 6.0, seed=2, out_dir=tmp_path)
    assert c.form == "ident" and c.chords[-1] == "C" and len(c.chords) <= 8
    assert sf.info(str(c.wav)).frames == 6 * RATE
    assert abs(c.loudness["integrated_lufs"] - (-20.0)) <= 1.0
    data, _ = sf.read(str(c.wav))
    assert _rms_db(data[int(4.6 * RATE) : int(4.9 * RATE)]) > -45  # the final chord still sounds before the fade
    with pytest.raises(InputError, match="ident"):
        compose_ident("bright", 60.0, out_dir=tmp_path)


# --- bad input -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mood": "happy"}, "unknown mood 'happy'.*calm, bright, tense, sad"),
        ({"key": "H"}, "unknown key 'H'"),
        ({"tempo": 39.0}, "tempo"),
        ({"tempo": 201.0}, "tempo"),
        ({"seconds": 0.0}, "more than 0"),
        ({"seconds": -3.0}, "more than 0"),
        ({"seconds": MAX_SECONDS + 1}, "over the limit"),
        ({"seconds": float("nan")}, "more than 0"),
        ({"level_lufs": 0.0}, "level"),
        ({"stem": "../x"}, "stem"),
    ],
)
def test_bad_input(kwargs: dict, match: str, tmp_path: Path) -> None:
    args = {"mood": "calm", "seconds": 4.0, "out_dir": tmp_path} | kwargs
    with pytest.raises(InputError, match=match):
        compose(**args)


def test_missing_soundfont_is_a_setup_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUBLINE_SOUNDFONT", str(tmp_path / "gone.sf2"))
    with pytest.raises(SetupError, match="make setup") as e:
        compose("calm", seconds=4.0, out_dir=tmp_path / "out")
    assert e.value.exit_code != 0
    assert not (tmp_path / "out").exists()  # nothing written


# --- the command -----------------------------------------------------------------------------------------------


def _app():  # type: ignore[no-untyped-def]
    import typer

    from pipeline.cli.sound import ambience
    from pipeline.cli.sound import compose as compose_cmd

    app = typer.Typer(pretty_exceptions_enable=False)
    app.command("compose")(compose_cmd)
    app.command("ambience")(ambience)
    return app


def test_compose_command(renders: dict[str, Composed], tmp_path: Path) -> None:
    from typer.testing import CliRunner

    runner = CliRunner()
    args = ["compose", "--mood", "tense", "--seconds", "4", "--seed", "2", "--out", str(tmp_path / "t.wav")]
    r = runner.invoke(_app(), args)
    assert r.exit_code == 0, r.output
    for name in ("t.wav", "t.mid", "t.musicxml"):
        assert name in r.output and (tmp_path / name).is_file()
    assert "LUFS" in r.output
    for args in (
        ["compose", "--mood", "happy"],
        ["compose", "--mood", "calm", "--key", "H"],
        ["compose", "--seconds", "601"],
    ):
        r = runner.invoke(_app(), [*args, "--out", str(tmp_path / "x.wav")])
        assert r.exit_code == 2 and r.output.count("error:") == 1 and "Traceback" not in r.output, r.output


def test_float_wav_bytes_do_not_depend_on_the_time(tmp_path: Path) -> None:
    """libsndfile's float WAV carries the time of writing (its PEAK chunk); ours must not."""
    import time

    from pipeline.audio.compose import write_float_wav

    x = np.random.default_rng(0).standard_normal((4800, 2)).astype(np.float32) * 0.1
    a = write_float_wav(x, RATE, tmp_path / "a.wav").read_bytes()
    time.sleep(1.05)
    assert write_float_wav(x, RATE, tmp_path / "b.wav").read_bytes() == a
    data, rate = sf.read(str(tmp_path / "b.wav"), dtype="float32")
    assert rate == RATE and np.array_equal(data, x)
