"""`make bench`: time `dubline dub` end to end and print the figures.

Dubs ../shared/fixtures/lecture_en_60s.wav into Spanish as audio and wrapped in a video (the project's
own sample when the fixtures are absent), each in a fresh data folder so that no stage is reused, with
the models already unpacked. Prints wall time, real-time factor, peak memory and each stage's time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


def _watch_peak_rss(proc: subprocess.Popen[str]) -> int:
    """Peak resident memory of the process and its children together (bytes), sampled every 0.1 s."""
    import psutil

    peak = 0
    root = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            total = root.memory_info().rss + sum(c.memory_info().rss for c in root.children(recursive=True))
            peak = max(peak, total)
        except psutil.Error:
            pass
        time.sleep(0.1)
    return peak


def run_one(kind: str, src: Path, tmp: Path) -> dict[str, object]:
    data = tmp / f"data-{kind}"
    out = tmp / f"out-{kind}"
    env = {**os.environ, "DUBLINE_DATA_DIR": str(data)}
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli.app", "dub", str(src), "--to", "es", "--out", str(out)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    peak = _watch_peak_rss(proc)
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"bench: dubbing {src} failed:\n{stderr}")
    report = json.loads(next(out.glob("*.report.json")).read_text())
    duration = float(report["input"]["duration_s"])
    return {
        "kind": kind,
        "input": src.name,
        "duration_s": round(duration, 2),
        "wall_s": round(wall, 2),
        "rtf": round(wall / duration, 3),
        "peak_rss_mib": round(peak / 2**20, 1),
        "stages": {
            (s["stage"] + (f"[{s['language']}]" if s["language"] else "")): s["elapsed_s"] for s in report["stages"]
        },
        "stage_sum_s": report["stage_time_s"],
        "timing": {k: {"summary": v["summary"]} for k, v in report["timing"].items()},
        "fit_share": sum(s["elapsed_s"] for s in report["stages"] if s["stage"] == "fit") / wall,
    }


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m benchmarks.bench", description=__doc__)
    ap.add_argument("--long", type=float, default=600.0, help="also dub a generated talk this long (s); 0 = skip")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="dubline-bench-") as tmp_s:
        tmp = Path(tmp_s)
        results = []
        inputs = _inputs(tmp)
        if args.long > 0:
            from pipeline.audio.sample import make_sample
            from pipeline.core.config import get_settings

            inputs.append(("long video", make_sample(tmp / f"talk_{int(args.long)}s.mp4", get_settings(), args.long)))
        for kind, src in inputs:
            r = run_one(kind, src, tmp)
            results.append(r)
            print(f"\n== dub {r['input']} ({kind}, {r['duration_s']} s) -> es")
            print(f"wall {r['wall_s']} s   real-time factor {r['rtf']}   peak memory {r['peak_rss_mib']} MiB")
            print(f"stage time {r['stage_sum_s']} s (the rest is process start, Airflow and the DAG run)")
            print(f"timing (fit) stage: {r['fit_share']:.1%} of the job's wall time")
            for lang, t in r["timing"].items():  # type: ignore[attr-defined]
                sm = t["summary"]
                print(
                    f"  {lang}: lines {sm['lines']}, >1.15 {sm['share_above_1_15']:.0%}, "
                    f">1.25 {sm['share_above_1_25']:.0%}, largest {sm['largest_factor']:.2f}x, "
                    f"isochrony {sm['isochrony']:.2f}, overruns {sm['overruns']}, end drift {sm['end_drift_s']} s"
                )
            for name, secs in r["stages"].items():  # type: ignore[attr-defined]
                print(f"  {name:<16} {secs:7.2f} s")
        print("\n" + json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
