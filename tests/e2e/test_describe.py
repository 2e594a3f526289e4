"""`dubline describe` end to end: a 30 s programme (Pico's dialogue at known times over a music bed, a test
picture) and a WebVTT description track, through the describe_video DAG (real Airflow run, real voice, Whisper,
Silero VAD, the LLM shortener, ffmpeg, C2PA, watermark): descriptions land in the gaps, never over the
dialogue, one is delayed to the next gap that fits, one is shortened; the programme is ducked under them; the
deliverables are named after the programme; then extended description (bad input: test_describe_cli.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from benchmarks.eval.adcases import Programme, make_programme, write_vtt

DUBLINE = [sys.executable, "-m", "pipeline.cli.app"]
LINES = [
    (1.0, "Good morning. Thank you all for coming to the lecture."),
    (9.0, "First, we will look at the history of printing."),
    (15.0, "It changed how people shared their ideas in Europe."),
    (24.0, "Let us begin with a short film about a workshop."),
    (27.6, "Here it is, with its own music and sound."),  # cut by the programme's end: dialogue to the end
]
LONG = (
    "A black and white film shows a busy workshop full of workers who set the type by hand, while the master "
    "printer holds a freshly printed page up to the light of a tall window."
)
CUES = [
    ("d1", 5.5, None, "A lecturer stands at a wooden podium."),
    ("d2", 13.3, None, "A slide shows an old printing press."),
    ("d3", 19.5, None, LONG),
    ("d4", 28.2, None, "The lights go down."),  # no gap left before the end: extended, or flagged
]
VOICE = "piper:en_US-joe-medium"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*DUBLINE, *args], capture_output=True, text=True, env={**os.environ}, timeout=1200)


def _streams(path: Path) -> list[dict[str, Any]]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return list(json.loads(out.stdout)["streams"])


def _duration(path: Path) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip())


def _overlap(a: tuple[float, float], spans: list[tuple[float, float]]) -> float:
    return sum(max(0.0, min(a[1], e) - max(a[0], s)) for s, e in spans)


@pytest.fixture(scope="module")
def programme(tmp_path_factory: pytest.TempPathFactory) -> tuple[Programme, Path]:
    root = tmp_path_factory.mktemp("ad")
    prog = make_programme(root / "lecture.mp4", LINES, 30.0)
    script = write_vtt(root / "lecture.vtt", CUES)
    return prog, script


@pytest.fixture(scope="module")
def described(programme: tuple[Programme, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    prog, script = programme
    out = tmp_path_factory.mktemp("ad_out")
    proc = _run("describe", str(prog.video), "--script", str(script), "--voice", VOICE, "--extended", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-3000:]
    report = json.loads((out / "lecture.report.json").read_text())
    return {"out": out, "stdout": proc.stdout, "report": report, "programme": prog}


@pytest.mark.slow
def test_the_deliverables_are_named_after_the_programme(described: dict[str, Any]) -> None:
    out: Path = described["out"]
    names = sorted(p.name for p in out.iterdir() if not p.name.endswith(".provenance.json"))
    assert names == [
        "lecture.described-extended.mp4",
        "lecture.described.mp4",
        "lecture.description.dapt.xml",
        "lecture.description.vtt",
        "lecture.description.wav",
        "lecture.report.json",
    ]
    assert len([p for p in out.iterdir() if p.name.endswith(".provenance.json")]) == len(names)
    assert "finished" in described["stdout"] and "descriptions" in described["stdout"]


@pytest.mark.slow
def test_the_ad_track_follows_the_original_tagged_for_the_visually_impaired(described: dict[str, Any]) -> None:
    streams = _streams(described["out"] / "lecture.described.mp4")
    audio = [s for s in streams if s["codec_type"] == "audio"]
    assert [s["codec_type"] for s in streams].count("video") == 1 and len(audio) == 2
    ad = audio[1]
    assert ad["disposition"]["visual_impaired"] == 1 and audio[0]["disposition"]["visual_impaired"] == 0
    assert ad["disposition"].get("descriptions") == 1
    # mp4 keeps a track's name as its handler name (what ffprobe and players read)
    assert ad["tags"]["handler_name"] == "Audio description" and ad["tags"]["language"] == "eng"


@pytest.mark.slow
def test_descriptions_never_speak_over_dialogue_unflagged(described: dict[str, Any]) -> None:
    report, prog = described["report"], described["programme"]
    cues = {c["id"]: c for c in report["cues"]}
    assert sorted(cues) == ["d1", "d2", "d3", "d4"]
    for c in cues.values():
        if "overrun" not in c["steps"]:
            assert _overlap((c["start"], c["end"]), prog.dialogue) <= 0.15, c
    assert abs(cues["d1"]["start"] - 5.5) <= 0.3 and cues["d1"]["steps"] == ["fits"]
    # d2's own gap (13.25-14.75 s, less the guards) is too short for it: it waits for the next gap that fits
    assert cues["d2"]["start"] >= prog.dialogue[2][1] and "delay" in cues["d2"]["steps"]
    # d3 fits no gap within the look-ahead: shortened (both texts in the report), then held or flagged
    assert cues["d3"]["shortened"] and len(cues["d3"]["spoken_text"]) < len(LONG)
    assert cues["d3"]["text"] == LONG
    # d4 is asked for in the last line of dialogue, which runs to the end: spoken over it, flagged for review
    assert "overrun" in cues["d4"]["steps"] and cues["d4"]["overrun_s"] > 0
    figures = report["figures"]
    assert figures["cues"] == 4 and figures["shortened"] >= 1 and figures["overruns"] >= 1
    assert report["qa"]["lines"] >= 4
    assert any("d4" in w for w in report["warnings"])


@pytest.mark.slow
def test_the_programme_is_ducked_only_under_descriptions_and_the_mix_meets_r128(described: dict[str, Any]) -> None:
    report = described["report"]
    assert report["levels"]["difference_db"] <= -6.0
    assert -11.0 <= report["levels"]["ducked_by_db"] <= -6.0  # the -10 dB duck, less the attack and release ramps
    ad = report["loudness"]["ad"]
    assert abs(ad["integrated_lufs"] - (-23.0)) <= 1.0 and ad["true_peak_dbtp"] <= -1.0
    assert report["watermark"]["payload"] > 0


@pytest.mark.slow
def test_extended_description_holds_the_picture(described: dict[str, Any]) -> None:
    report = described["report"]
    held = sum(h["hold_s"] for h in report["extended"]["time_map"])
    assert held > 0.5  # d4, at least: the picture holds while it is spoken
    ext = described["out"] / "lecture.described-extended.mp4"
    assert abs(_duration(ext) - (30.0 + held)) <= 0.25
    streams = _streams(ext)
    assert [s["codec_type"] for s in streams] == ["video", "audio", "audio"]


@pytest.mark.slow
def test_the_scripts_as_placed_read_back(described: dict[str, Any]) -> None:
    from pipeline.text.descriptions.scripts import read_script

    out: Path = described["out"]
    placed = {c["id"]: c for c in described["report"]["cues"]}
    for name in ("lecture.description.vtt", "lecture.description.dapt.xml"):
        script = read_script(out / name)
        assert [c.id for c in script.cues] == sorted(placed, key=lambda i: placed[i]["start"])
        for c in script.cues:
            assert abs(c.start - placed[c.id]["start"]) < 0.01
            assert c.text == placed[c.id]["spoken_text"]


@pytest.mark.slow
def test_a_dub_adds_a_described_track_per_language(sample_video: Path, tmp_path: Path) -> None:
    """`dubline dub --describe`: the English descriptions translated into Spanish, placed in the Spanish dub's
    gaps and mixed into a described dub track after the dub, flagged for the visually impaired."""
    from pipeline.text.descriptions.scripts import read_script

    script = write_vtt(
        tmp_path / "talk.vtt",
        [("p1", 2.0, None, "A title card shows the name of the talk."), ("p2", 15.0, None, "The speaker smiles.")],
    )
    out = tmp_path / "out"
    bed = ("--bed", "compose:calm", "--denoise", "speech")  # and the sound around the voice (issue 19)
    proc = _run("dub", str(sample_video), "--to", "es", "--describe", str(script), *bed, "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-3000:]
    assert "audio description (es)" in proc.stdout
    assert "bed (es): compose:calm" in proc.stdout and "denoise (speech)" in proc.stdout
    audio = [s for s in _streams(out / "talk.dub.mp4") if s["codec_type"] == "audio"]
    assert [s["tags"]["language"] for s in audio] == ["eng", "spa", "spa"]
    assert [s["disposition"]["visual_impaired"] for s in audio] == [0, 0, 1]
    assert audio[0]["disposition"]["default"] == 1 and audio[2]["disposition"].get("descriptions") == 1
    assert audio[2]["tags"]["handler_name"] == "Audio description (es)"
    report = json.loads((out / "talk.report.json").read_text())
    desc = report["description"]["es"]
    assert desc["figures"]["cues"] == 2 and desc["translation"] is not None
    assert desc["script"]["language"] == "en" and desc["voice"]["person"] is None
    cues = {c["id"]: c for c in desc["cues"]}
    assert sorted(cues) == ["p1", "p2"]
    assert cues["p1"]["spoken_text"] != "A title card shows the name of the talk."  # translated
    # the dub's own speech (each line from its placed start for its final duration): a description not flagged
    # for review never speaks over it; one flagged says by how much
    dub = [(ln["start"], ln["start"] + ln["final_duration"]) for ln in report["timing"]["es"]["lines"]]
    for c in cues.values():
        if "overrun" in c["steps"]:
            assert c["overrun_s"] > 0, c
        else:
            assert _overlap((c["start"], c["end"]), dub) <= 0.15, c
    placed = read_script(out / "talk.es.description.vtt")
    assert [c.id for c in placed.cues] == sorted(cues, key=lambda i: cues[i]["start"])
    assert report["loudness"]["es-ad"]["meets"] is True
    # the sample's own music runs from start to end: no silent stretch, so the bed is laid but never heard
    # (it does not pile onto the music; tests/pipeline/stages/test_mix_bed.py has one that fills a silence)
    assert report["bed"]["es"]["generated"] is True and report["bed"]["es"]["heard_s"] == 0.0
    assert [a["copy"] for a in report["denoise"]["applied"]] == ["speech"]
    from pipeline.core.config import get_settings
    from pipeline.ledger.signing import JOB_ASSERTION, check_file

    job = check_file(get_settings(), out / "talk.dub.mp4").assertions[JOB_ASSERTION]
    assert job["generated_audio"][0]["spec"] == "compose:calm" and job["generated_audio"][0]["generated"] is True
