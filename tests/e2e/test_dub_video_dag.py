"""End to end: the dub_video DAG through Airflow's dag.test(), on real Whisper, Apertium, Pico and ffmpeg."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import jiwer
import pytest

from pipeline.cli.runner import run_dag
from pipeline.core.config import get_settings
from pipeline.text.subtitles import read_subtitles

pytestmark = pytest.mark.slow


def _norm(text: str) -> str:
    text = re.sub(r"[^\w\s']", " ", text.lower())
    return " ".join(text.split())


def _probe(path: Path) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def dubbed(sample_video: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("out")
    settings = get_settings()
    conf = {"input": str(sample_video), "source_language": "", "target_languages": ["es"], "output": str(out)}
    result = run_dag(settings, "dub_video", conf, log_path=settings.data_dir / "logs" / "e2e.log")
    return {"result": result, "out": out, "truth": json.loads(Path(str(sample_video) + ".json").read_text())}


def test_run_succeeds_and_publishes_named_outputs(dubbed: dict) -> None:
    assert dubbed["result"]["state"] == "success"
    names = sorted(p.name for p in dubbed["out"].iterdir() if not p.name.endswith(".provenance.json"))
    assert names == ["talk.dub.mp4", "talk.en.srt", "talk.en.vtt", "talk.es.srt", "talk.es.vtt", "talk.report.json"]
    manifests = sorted(p.name for p in dubbed["out"].iterdir() if p.name.endswith(".provenance.json"))
    assert manifests == [f"{n}.provenance.json" for n in names]  # one provenance manifest beside each output


def test_streams_tags_and_duration(dubbed: dict, sample_video: Path) -> None:
    info = _probe(dubbed["out"] / "talk.dub.mp4")
    kinds = [s["codec_type"] for s in info["streams"]]
    assert kinds.count("video") == 1 and kinds.count("audio") == 2
    langs = [s.get("tags", {}).get("language") for s in info["streams"] if s["codec_type"] == "audio"]
    assert langs == ["eng", "spa"]
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    src_video = next(s for s in _probe(sample_video)["streams"] if s["codec_type"] == "video")
    assert video["codec_name"] == src_video["codec_name"] and video["nb_frames"] == src_video["nb_frames"]
    src_dur = float(_probe(sample_video)["format"]["duration"])
    assert abs(float(info["format"]["duration"]) - src_dur) <= 0.040
    subs = [
        (s["codec_name"], s.get("tags", {}).get("language")) for s in info["streams"] if s["codec_type"] == "subtitle"
    ]
    assert subs == [("mov_text", "eng"), ("mov_text", "spa")]


def test_spanish_cues_lie_within_source_speech(dubbed: dict) -> None:
    spans = [(s["start"], s["end"]) for s in dubbed["truth"]["speech"]]
    cues = read_subtitles(dubbed["out"] / "talk.es.srt")
    assert len(cues) >= len(spans)
    for c in cues:
        assert any(a - 0.5 <= c.start and c.end <= b + 0.5 for a, b in spans), f"cue {c} outside speech {spans}"


def test_spanish_track_says_the_spanish_subtitles(dubbed: dict, tmp_path: Path) -> None:
    wav = tmp_path / "spa.wav"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-i",
            str(dubbed["out"] / "talk.dub.mp4"),
            "-map",
            "0:a:1",
            "-ac",
            "1",
            "-ar",
            "16000",
            str(wav),
        ],
        check=True,
    )
    from pipeline.core.engines import get_asr

    heard = " ".join(s.text for s in get_asr(get_settings()).transcribe(wav, language="es").segments)
    said = " ".join(c.text for c in read_subtitles(dubbed["out"] / "talk.es.srt"))
    wer = jiwer.wer(_norm(said), _norm(heard))
    print(f"Spanish track WER against the Spanish subtitles: {wer:.3f}")
    assert wer <= 0.35


def test_report_has_stage_timings(dubbed: dict) -> None:
    report = json.loads((dubbed["out"] / "talk.report.json").read_text())
    stages = {s["stage"] for s in report["stages"]}
    assert {"ingest", "transcribe", "separate", "translate", "synthesize", "fit", "mix", "mux"} <= stages
    assert report["source_language"] == "en"
    timing = report["timing"]["es"]
    assert timing["summary"]["end_drift_s"] == 0.0
    assert 0.0 <= timing["summary"]["isochrony"] <= 1.0
    assert len(timing["lines"]) == timing["summary"]["lines"] > 0
    for line in timing["lines"]:
        assert {
            "start",
            "source_end",
            "natural_duration",
            "final_duration",
            "stretch",
            "steps",
            "overrun_s",
            "gap_to_next_s",
        } <= set(line)
        assert 0.85 <= line["stretch"] <= 1.25
    assert report["subtitles"]["profile"] == "broadcast"
    assert report["separation"]["method"] in ("spleeter", "dsp")
    assert set(report["loudness"]) == {"en", "es"}
    for track in report["loudness"].values():
        assert track["profile"] == "ebu_r128" and track["meets"], track
    assert report["subtitles"]["checks"]["es"]["line_too_long"] == 0
    assert all(s["elapsed_s"] >= 0 for s in report["stages"])


def test_rerun_reuses_every_stage(dubbed: dict, sample_video: Path) -> None:
    """Idempotent stages: the same job run again (same input, parameters and output) does no work and
    publishes the same media (the signed file included: its manifest names the job, not the run)."""
    from pipeline.core import progress

    before = (dubbed["out"] / "talk.dub.mp4").read_bytes()
    events: list[tuple[str, str]] = []
    unsubscribe = progress.subscribe(lambda stage, event, info: events.append((stage, event)))
    try:
        conf = {
            "input": str(sample_video),
            "source_language": "",
            "target_languages": ["es"],
            "output": str(dubbed["out"]),
        }
        run_dag(get_settings(), "dub_video", conf, log_path=get_settings().data_dir / "logs" / "e2e-rerun.log")
    finally:
        unsubscribe()
    worked = [s for s, e in events if e == "start" and s != "publish"]
    assert worked == [], f"stages redone on a re-run: {worked}"
    assert (dubbed["out"] / "talk.dub.mp4").read_bytes() == before


def test_adding_a_language_redoes_only_its_stages(dubbed: dict, sample_video: Path, tmp_path: Path) -> None:
    """What finished is kept: a run with one more language only does that language's work (and the mux)."""
    from pipeline.core import progress

    events: list[tuple[str, str]] = []
    unsubscribe = progress.subscribe(lambda stage, event, info: events.append((stage, event)))
    try:
        conf = {
            "input": str(sample_video),
            "source_language": "",
            "target_languages": ["es", "ca"],
            "output": str(tmp_path),
            "containers": ["mp4", "mkv"],
        }
        run_dag(get_settings(), "dub_video", conf, log_path=get_settings().data_dir / "logs" / "e2e-ca.log")
    finally:
        unsubscribe()
    worked = sorted(s for s, e in events if e == "start" and s != "publish")
    assert worked == ["fit[ca]", "mix[ca]", "mux", "sign", "synthesize[ca]", "translate[ca]"]
    info = _probe(tmp_path / "talk.dub.mp4")
    assert [s["tags"]["language"] for s in info["streams"] if s["codec_type"] == "audio"] == ["eng", "spa", "cat"]
    assert (tmp_path / "talk.ca.vtt").read_text().startswith("WEBVTT")
    mkv = _probe(tmp_path / "talk.dub.mkv")
    assert [s["codec_type"] for s in mkv["streams"]].count("audio") == 3
    assert [s.get("tags", {}).get("language") for s in mkv["streams"] if s["codec_type"] == "subtitle"] == [
        "eng",
        "spa",
        "cat",
    ]


def test_detected_pair_without_engine_fails_cleanly(dubbed: dict, sample_video: Path, tmp_path: Path) -> None:
    from pipeline.core.errors import DublineError

    conf = {"input": str(sample_video), "source_language": "", "target_languages": ["pl"], "output": str(tmp_path)}
    with pytest.raises(DublineError) as err:
        run_dag(get_settings(), "dub_video", conf, log_path=get_settings().data_dir / "logs" / "e2e-de.log")
    assert "en->pl" in err.value.one_line() and "en->es" in err.value.one_line()
    assert err.value.exit_code == 3
    assert list(tmp_path.iterdir()) == []
    from pipeline.ledger import db

    last = db.recent_jobs(get_settings().resolved_db_url, 1)[0]
    assert last.status == "failed" and "en->pl" in (last.error or "")


def test_a_byte_identical_input_is_delivered_under_its_own_name(
    dubbed: dict, sample_video: Path, tmp_path: Path
) -> None:
    """Names belong to the job, not to the content key: the same bytes under another name reuse every stage
    but are delivered, reported and signed under their own name (issue 15: b.mp4 after a.mp4 gave a.dub.mp4)."""
    import shutil

    other = tmp_path / "other name.mp4"
    shutil.copyfile(sample_video, other)
    out = tmp_path / "out"
    conf = {"input": str(other), "source_language": "", "target_languages": ["es"], "output": str(out)}
    run_dag(get_settings(), "dub_video", conf, log_path=get_settings().data_dir / "logs" / "e2e-renamed.log")
    names = sorted(p.name for p in out.iterdir() if not p.name.endswith(".provenance.json"))
    assert names == [f"other name.{n}" for n in ("dub.mp4", "en.srt", "en.vtt", "es.srt", "es.vtt", "report.json")]
    report = json.loads((out / "other name.report.json").read_text())
    assert report["input"]["filename"] == "other name.mp4"
    assert [s["stage"] for s in report["stages"] if not s["cached"]] in ([], ["sign"])  # only the title differs
