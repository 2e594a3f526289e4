"""`make bench`: time `dubline dub` end to end, per speed profile, and print the figures.

Dubs ../shared/fixtures/lecture_en_60s.wav into Spanish wrapped in a video (or as audio: --kinds; the
project's own sample when the fixtures are absent) and a generated 10-minute talk, under each profile
(--profiles, default fast and balanced), each in a fresh data folder so that no stage is reused, with the
models already unpacked. Prints wall time, real-time factor, peak memory, the share of time outside the
stages, the QA figures, the load average before the run and each stage's time.

With --standalone it dubs the 60 s input under a real `airflow standalone` instead (LocalExecutor: each task a
process of its own, which loads the models it uses) and prints how much of the job went to loading models.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC
from pathlib import Path
from typing import Any

import ffmpeg

from pipeline.audio import media

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO.parent / "shared" / "fixtures"


def _inputs(tmp: Path) -> list[tuple[str, Path]]:
    lecture = FIXTURES / "lecture_en_60s.wav"
    if not lecture.is_file():
        from pipeline.audio.sample import make_sample
        from pipeline.core.config import get_settings

        print(f"note: {lecture} absent; benchmarking the generated sample instead")
        video = make_sample(tmp / "talk.mp4", get_settings(), seconds=60)
        audio = tmp / "talk.wav"
        media.run(ffmpeg.output(ffmpeg.input(str(video)).audio, str(audio)), "extract the sample's audio")
        return [("audio", audio), ("video", video)]
    info = media.probe(lecture)
    video = tmp / "lecture_en_60s.mp4"
    picture = ffmpeg.input(f"gradients=s=640x360:r=25:d={info.duration:.3f}:speed=0.02", f="lavfi")
    media.run(
        ffmpeg.output(
            picture.video,
            ffmpeg.input(str(lecture)).audio,
            str(video),
            vcodec="libx264",
            preset="veryfast",
            crf=28,
            pix_fmt="yuv420p",
            acodec="aac",
            t=f"{info.duration:.3f}",
        ),
        "wrap the lecture in a video",
    )
    return [("audio", lecture), ("video", video)]


def _watch_rss(proc: subprocess.Popen[str]) -> list[tuple[float, int]]:
    """Resident memory of the process and its children together (bytes), sampled every 0.1 s: (epoch, bytes)."""
    import psutil

    samples: list[tuple[float, int]] = []
    root = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            total = root.memory_info().rss + sum(c.memory_info().rss for c in root.children(recursive=True))
            samples.append((time.time(), total))
        except psutil.Error:
            pass
        time.sleep(0.1)
    return samples


def _task_times(airflow_db: Path, started: float, rss: list[tuple[float, int]]) -> dict[str, Any]:
    """From Airflow's database of the run: the seconds from the process's start to the first task's (cold
    start), the DAG run's span from the first task's start to the last one's end, and each task's peak
    resident memory (MiB, of the process tree while the task ran)."""
    import sqlite3
    from datetime import datetime

    def epoch(value: str) -> float:
        when = datetime.fromisoformat(value)
        return when.timestamp() if when.tzinfo else when.replace(tzinfo=UTC).timestamp()

    with contextlib.closing(sqlite3.connect(airflow_db)) as db:
        rows = db.execute(
            "SELECT task_id, map_index, start_date, end_date FROM task_instance WHERE dag_id = 'dub_video' AND "
            "run_id = (SELECT run_id FROM dag_run WHERE dag_id = 'dub_video' ORDER BY id DESC LIMIT 1) "
            "AND start_date IS NOT NULL AND end_date IS NOT NULL ORDER BY start_date"
        ).fetchall()
    spans = [(task + (f"[{index}]" if index >= 0 else ""), epoch(a), epoch(b)) for task, index, a, b in rows]
    peaks = {name: round(max((m for t, m in rss if a <= t <= b), default=0) / 2**20, 1) for name, a, b in spans}
    first, last = min(a for _, a, _ in spans), max(b for _, _, b in spans)
    return {
        "cold_start_s": round(first - started, 2),
        "run_span_s": round(last - first, 2),
        "task_peak_rss_mib": {k: v for k, v in sorted(peaks.items(), key=lambda kv: -kv[1])[:5]},
    }


def run_one(kind: str, src: Path, tmp: Path, profile: str = "balanced", flame: Path | None = None) -> dict[str, Any]:
    """One `dubline dub` in a fresh data folder (nothing reused), Airflow's database already migrated."""
    tag = f"{kind.replace(' ', '-')}-{profile}"
    data = tmp / f"data-{tag}"
    out = tmp / f"out-{tag}"
    airflow_home = tmp / "airflow"  # migrated once (the warm-up): a one-time cost of a new installation
    env = {**os.environ, "DUBLINE_DATA_DIR": str(data), "DUBLINE_AIRFLOW_HOME": str(airflow_home)}
    load = os.getloadavg()[0]
    started = time.time()
    t0 = time.perf_counter()
    command = [sys.executable, "-m", "pipeline.cli.app", "dub", str(src), "--to", "es", "--out", str(out)]
    command += ["--profile", profile]
    if flame is not None:  # py-spy samples the dub and its subprocesses (40 Hz: about 2 % slower)
        flame.mkdir(parents=True, exist_ok=True)
        svg = flame / f"{src.stem}-{profile}.svg"
        spy = [str(Path(sys.executable).parent / "py-spy"), "record", "-r", "40", "-s", "-o", str(svg), "--"]
        command = spy + command
    proc = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    rss = _watch_rss(proc)
    peak = max((m for _, m in rss), default=0)
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"bench: dubbing {src} failed:\n{stderr}")
    report = json.loads(next(out.glob("*.report.json")).read_text())
    duration = float(report["input"]["duration_s"])
    qa = (report.get("qa") or {}).get("es") or {}
    times = _task_times(airflow_home / "airflow.db", started, rss)
    return {
        **times,
        "airflow_overhead_s": round(max(times["run_span_s"] - float(report["stage_time_s"]), 0.0), 2),
        "kind": kind,
        "profile": (report.get("profile") or {}).get("name", profile),
        "load_before": round(load, 2),
        "input": src.name,
        "duration_s": round(duration, 2),
        "wall_s": round(wall, 2),
        "rtf": round(wall / duration, 3),
        "peak_rss_mib": round(peak / 2**20, 1),
        "stages": {
            (s["stage"] + (f"[{s['language']}]" if s["language"] else "")): s["elapsed_s"] for s in report["stages"]
        },
        "stage_sum_s": report["stage_time_s"],
        "outside_share": round(max(wall - float(report["stage_time_s"]), 0.0) / wall, 3),
        "qa_mean_wer": qa.get("mean_wer"),
        "qa_heard": f"{qa.get('heard', qa.get('lines'))}/{qa.get('spoken', qa.get('lines'))}" if qa else None,
        "timing": {k: {"summary": v["summary"]} for k, v in report["timing"].items()},
        "fit_share": sum(s["elapsed_s"] for s in report["stages"] if s["stage"] == "fit") / wall,
    }


def run_standalone(src: Path, tmp: Path, profile: str = "balanced") -> dict[str, Any]:
    """The dub of `src` under a real `airflow standalone` (LocalExecutor: every task a process of its own, so each
    task loads the models it uses): the run's wall time and how much of it went to loading models, by stage."""
    from tools.standalone import StandaloneError, standalone

    out = tmp / f"out-standalone-{profile}"
    with standalone(tmp / f"standalone-{profile}", "bench", "bench-standalone-pw") as server:
        try:
            server.wait_parsed("dub_video")
            load = os.getloadavg()[0]
            t0 = time.perf_counter()
            conf = {"input": str(src), "target_languages": ["es"], "output": str(out), "profile": profile}
            run_id = server.trigger("dub_video", conf)

            def finished() -> bool:
                state = server.run_state("dub_video", run_id)
                if state == "failed":
                    raise StandaloneError(f"the dub failed\n{server.diagnosis('dub_video', run_id)}")
                return state == "success"

            server.wait("the dub to finish", finished, 3600, "dub_video", run_id)
            wall = time.perf_counter() - t0
            tasks = server.task_instances("dub_video", run_id)
        except StandaloneError as e:
            raise SystemExit(f"bench: the standalone dub of {src} failed: {e}") from e
    report = json.loads(next(out.glob("*.report.json")).read_text())
    duration = float(report["input"]["duration_s"])
    loads: dict[str, float] = {}
    for s in report["stages"]:
        if not s["cached"] and s.get("model_load_s"):
            name = s["stage"] + (f"[{s['language']}]" if s["language"] else "")
            loads[name] = round(loads.get(name, 0.0) + float(s["model_load_s"]), 2)
    task_s = sum(float(t.get("duration") or 0.0) for t in tasks)
    return {
        "input": src.name,
        "profile": profile,
        "load_before": round(load, 2),
        "duration_s": round(duration, 2),
        "wall_s": round(wall, 2),
        "rtf": round(wall / duration, 3),
        "tasks": len(tasks),
        "task_time_s": round(task_s, 2),
        "stage_sum_s": report["stage_time_s"],
        "model_load_s": report["model_load_s"],
        "model_load_share": round(float(report["model_load_s"]) / wall, 3),
        "model_load_by_stage": dict(sorted(loads.items(), key=lambda kv: -kv[1])),
    }


def _print_standalone(r: dict[str, Any]) -> None:
    print(f"\n== dub {r['input']} ({r['duration_s']} s) -> es under airflow standalone, profile {r['profile']}")
    print(f"wall {r['wall_s']} s (trigger to success)   real-time factor {r['rtf']}")
    print(f"load average before {r['load_before']} on {os.cpu_count()} cores")
    print(f"{r['tasks']} task processes, {r['task_time_s']} s in tasks; stage time {r['stage_sum_s']} s")
    print(
        f"model loading {r['model_load_s']} s = {r['model_load_share']:.1%} of the job "
        "(each task process loads the models it uses)"
    )
    for name, secs in r["model_load_by_stage"].items():
        print(f"  {name:<16} {secs:7.2f} s")


def _warm_up(src: Path, tmp: Path) -> None:
    cut = tmp / f"warmup{src.suffix}"
    media.run(ffmpeg.output(ffmpeg.input(str(src), t=10), str(cut)), "cut the warm-up clip")
    for profile in ("fast", "balanced"):
        run_one("warm-up", cut, tmp, profile)


def _print(r: dict[str, Any]) -> None:
    print(f"\n== dub {r['input']} ({r['kind']}, {r['duration_s']} s) -> es, profile {r['profile']}")
    print(f"wall {r['wall_s']} s   real-time factor {r['rtf']}   peak memory {r['peak_rss_mib']} MiB")
    print(f"load average before {r['load_before']} on {os.cpu_count()} cores")
    print(
        f"stage time {r['stage_sum_s']} s; outside the stages (process start, Airflow, the DAG run) "
        f"{r['outside_share']:.1%}"
    )
    print(
        f"cold start (launch to the first task) {r['cold_start_s']} s; the DAG run {r['run_span_s']} s, of which "
        f"{r['airflow_overhead_s']} s outside the stages (Airflow's task running, imports in the tasks)"
    )
    print(f"QA: lines heard {r['qa_heard']}, mean WER {r['qa_mean_wer']}")
    print("largest peak memory by task: " + ", ".join(f"{k} {v} MiB" for k, v in r["task_peak_rss_mib"].items()))
    print(f"timing (fit) stage: {r['fit_share']:.1%} of the job's wall time")
    for lang, t in r["timing"].items():
        sm = t["summary"]
        print(
            f"  {lang}: lines {sm['lines']}, >1.15 {sm['share_above_1_15']:.0%}, "
            f">1.25 {sm['share_above_1_25']:.0%}, largest {sm['largest_factor']:.2f}x, "
            f"isochrony {sm['isochrony']:.2f}, overruns {sm['overruns']}, end drift {sm['end_drift_s']} s"
        )
    for name, secs in r["stages"].items():
        print(f"  {name:<16} {secs:7.2f} s")


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m benchmarks.bench", description=__doc__)
    ap.add_argument("--long", type=float, default=600.0, help="also dub a generated talk this long (s); 0 = skip")
    ap.add_argument("--profiles", default="fast,balanced", help="comma-separated speed profiles to time")
    ap.add_argument("--kinds", default="video", help="which 60 s inputs: audio, video or audio,video")
    ap.add_argument("--no-warmup", dest="warmup", action="store_false", help="time the first run cold")
    ap.add_argument("--flame", type=Path, default=None, help="write a py-spy flame graph (SVG) of each dub here")
    ap.add_argument(
        "--standalone",
        action="store_true",
        help="instead: dub the 60 s input under a real `airflow standalone` (a process per task) and print the "
        "model-load time per stage",
    )
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    profiles = [p.strip() for p in args.profiles.split(",") if p.strip()]
    kinds = {k.strip() for k in args.kinds.split(",") if k.strip()}
    with tempfile.TemporaryDirectory(prefix="dubline-bench-") as tmp_s:
        tmp = Path(tmp_s)
        results = []
        inputs = [(k, p) for k, p in _inputs(tmp) if k in kinds]
        if args.standalone:
            for profile in profiles:
                r = run_standalone(inputs[0][1], tmp, profile)
                results.append(r)
                _print_standalone(r)
            print("\n" + json.dumps(results, indent=1))
            return
        if args.long > 0:
            from pipeline.audio.sample import make_sample
            from pipeline.core.config import get_settings

            inputs.append(("long video", make_sample(tmp / f"talk_{int(args.long)}s.mp4", get_settings(), args.long)))
        if args.warmup:
            print("warm-up: a 10 s dub (migrates Airflow's database, reads the models into the page cache)", flush=True)
            _warm_up(inputs[0][1], tmp)
        for (kind, src), profile in itertools.product(inputs, profiles):
            r = run_one(kind, src, tmp, profile, args.flame)
            results.append(r)
            _print(r)
        print("\n" + json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
