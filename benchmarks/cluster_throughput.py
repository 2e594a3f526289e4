"""`make bench-cluster`: jobs per hour of `dub_video` on a real local cluster (tools/cluster.py) with 1 and 2
Celery workers, and where the time goes.

For each worker count a fresh cluster is started in its own folder (its own databases and S3 store: nothing
made for one configuration is reused by the next), every job is triggered through the REST API at once, and the
wall time runs from the first trigger to the last run's end: jobs per hour = jobs / wall time. "N workers" are
N alike Celery workers (`tools.cluster up --workers N`), each on both the default and the heavy queue with the
same concurrency; the heavy pool stays at one slot per core of this machine in both configurations (all
workers share its cores), so the comparison is one worker process against two on the same cores.

Where the time goes, per task instance (REST API: scheduled_when, queued_when, start_date, end_date,
try_number, hostname) and from the task's own log (dubline's progress lines `stage=... event=done
elapsed_s=...`, the work of each content-addressed stage the task ran, `pipeline/core/stagerun.py`):
  waiting     ready -> started: scheduled_when -> queued_when (the scheduler: pool slots, concurrency) plus
              queued_when -> start_date (broker, a free worker slot, the task process's start)
  duration    start_date -> end_date
  stage work  the stages' recorded elapsed_s (union of their spans): the work itself, INCLUDING loading the
              models the stage uses (every task is a fresh process; dubline records no separate load time)
  overhead    duration - stage work: the task runner's start, imports, settings, the project-database check,
              XCom; no model loading (that happens inside the stage)

The inputs are different 60 s videos (stages and translated lines are content-addressed: identical speech would
be reused and the figures would lie): the real lecture ../shared/fixtures/lecture_en_60s.wav when present (with
a generated picture), then the project's sample (`dubline sample`) with its own talk and with three other talks
of distinct sentences, so that no input repeats another's lines.

    python -m benchmarks.cluster_throughput [--workers 1 2] [--jobs 4] [--seconds 60] [--dir DIR] [--keep]
                                            [--json out.json] [--timeout 5400]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tools.cluster import Cluster, down, up
from tools.cluster_env import REPO

DAG = "dub_video"
LECTURE = REPO.parent / "shared" / "fixtures" / "lecture_en_60s.wav"
# other talks for the sample (their closing sentence last), none sharing a line with another or with the sample's
TALKS = {
    "bees": [
        "Today we will talk about how honey bees live together.",
        "A colony can hold tens of thousands of bees in a single hive.",
        "The queen lays the eggs, sometimes more than a thousand in one day.",
        "Worker bees clean the cells, feed the young and guard the entrance.",
        "Older workers fly out to collect nectar and pollen from flowers.",
        "A bee that finds good flowers dances to show the others the way.",
        "The angle of the dance points toward the food, relative to the sun.",
        "Nectar is stored in wax cells and slowly thickens into honey.",
        "In winter the bees cluster together and shiver to keep warm.",
        "Farmers rely on bees to pollinate apples, almonds and many other crops.",
        "Pesticides and disease have made life harder for many colonies.",
        "Planting wild flowers in a garden gives bees more to eat.",
        "Even a small balcony with herbs can feed a few visitors.",
        "That is all about bees for today, thank you for your attention.",
    ],
    "bread": [
        "In this lesson we will bake a simple loaf of bread at home.",
        "You need flour, water, salt and a little yeast, nothing more.",
        "Mix the flour and the water first and let them rest for half an hour.",
        "Then add the salt and the yeast and knead the dough on the table.",
        "Kneading builds gluten, which traps the gas that the yeast makes.",
        "Cover the bowl and leave the dough somewhere warm until it doubles.",
        "Press out the air gently and shape the dough into a tight ball.",
        "Let it rise a second time while the oven heats up.",
        "A tray of water in the oven makes steam and gives a crisp crust.",
        "Bake the loaf until it sounds hollow when you tap the bottom.",
        "Let it cool on a rack before you cut the first slice.",
        "Fresh bread keeps best in a cloth bag, not in the fridge.",
        "Stale bread still makes very good toast or breadcrumbs.",
        "Enjoy your baking, and goodbye until the next lesson.",
    ],
    "trains": [
        "This short talk is about the history of railways.",
        "The first steam engines pulled coal wagons out of mines.",
        "Soon passenger lines connected cities that had been days apart.",
        "Towns agreed on one shared time so that timetables made sense.",
        "Tunnels and bridges carried the tracks through mountains and over rivers.",
        "Diesel engines later replaced steam on most lines.",
        "Electric trains draw their power from a wire above the track.",
        "High speed trains today run faster than three hundred kilometres an hour.",
        "Night trains let travellers sleep while they cross a whole country.",
        "Freight trains move heavy goods with far less fuel than lorries.",
        "Signals and block sections keep trains a safe distance apart.",
        "Many cities are now building new tram and metro lines.",
        "The railway changed how people work, travel and think about distance.",
        "Thanks for joining me on this journey, and safe travels.",
    ],
}


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)


def make_inputs(folder: Path, jobs: int, seconds: float) -> list[dict[str, Any]]:
    """`jobs` different videos of `seconds` each, with a description of what each one is."""
    from pipeline.audio import sample
    from pipeline.core.config import get_settings

    folder.mkdir(parents=True, exist_ok=True)
    made: list[dict[str, Any]] = []
    if LECTURE.is_file() and seconds <= 60.0:
        out = folder / "lecture.mp4"
        _ffmpeg("-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-i", str(LECTURE), "-t", f"{seconds:g}",
                "-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                "-c:a", "aac", "-shortest", str(out))  # fmt: skip
        made.append({"name": "lecture", "path": str(out), "what": f"{LECTURE.name} (real speech), first {seconds:g} s"})
    talks: list[tuple[str, list[str] | None]] = [("water", None), *TALKS.items()]
    need = jobs - len(made)
    if need > len(talks):
        raise SystemExit(f"--jobs {jobs}: at most {len(made) + len(talks)} different inputs are made here")
    settings = get_settings()
    for name, sentences in talks[:need]:
        out = folder / f"sample-{name}.mp4"
        sample.make_sample(out, settings, seconds, talk=sentences)  # None: the project's own talk
        truth = json.loads(out.with_name(out.name + ".json").read_text())
        lines = [s["text"] for s in truth["speech"]]
        repeats = len(lines) - len(set(lines))
        made.append(
            {
                "name": name,
                "path": str(out),
                "what": f"`dubline sample --seconds {seconds:g}`"
                + (" (its own talk)" if sentences is None else f" with the {name!r} talk")
                + f": {len(lines)} sentences (Piper voice over a music bed)"
                + (f", {repeats} said twice" if repeats else ""),
                "sentences": lines,
            }
        )
    texts = [set(m.get("sentences", [])) for m in made]
    for i, a in enumerate(texts):
        for b in texts[i + 1 :]:
            if a & b:
                raise SystemExit(f"inputs share sentences ({sorted(a & b)[:2]}): the benchmark would reuse work")
    return made


# ---------------------------------------------------------------------------------------------------- timings


def _t(value: Any) -> float | None:
    """An API date as POSIX seconds (None when not set)."""
    if not value:
        return None
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


STAGE_LINE = re.compile(r"stage=(?P<stage>\S+) event=(?P<event>start|done|cached)(?: elapsed_s=(?P<s>[0-9.]+))?")


def _task_logs(c: Cluster) -> dict[tuple[str, str, int, int], Path]:
    """{(run id, task id, map index, try): log file} of the cluster's task logs (Airflow's
    dag_id=/run_id=/task_id=/[map_index=/]attempt=N.log layout)."""
    base = Path(c.env().get("AIRFLOW__LOGGING__BASE_LOG_FOLDER") or c.dir / "airflow" / "logs")
    found: dict[tuple[str, str, int, int], Path] = {}
    for path in base.rglob("attempt=*.log"):
        parts = dict(p.split("=", 1) for p in path.relative_to(base).with_suffix("").parts if "=" in p)
        if parts.get("dag_id") == DAG:
            key = (parts["run_id"], parts["task_id"], int(parts.get("map_index", -1)), int(parts["attempt"]))
            found[key] = path
    return found


def _stage_spans(log: Path | None) -> tuple[list[dict[str, Any]], float, float]:
    """From a task's log: the stages it records (done: made now; cached: reused), their work's seconds (the
    union of the done stages' spans, so that a stage run inside another is not counted twice) and the seconds
    from each stage's start to the next line the task logs, where that is a step or an engine's message and not
    the stage's end (models loaded before that, inputs read), summed."""
    if log is None:
        return [], 0.0, 0.0
    stages: list[dict[str, Any]] = []
    spans: list[tuple[float, float]] = []
    first_line = 0.0
    started: float | None = None
    for line in log.read_text(errors="replace").splitlines():
        try:
            doc = json.loads(line)
            at = _t(doc.get("timestamp"))
        except (json.JSONDecodeError, AttributeError, ValueError):
            doc, at = {}, None
        m = STAGE_LINE.search(str(doc.get("event", "")) if doc else line)
        if started is not None and at is not None:
            if not m:  # a step or an engine's message before the stage ended
                first_line += at - started
            started = None
        if not m:
            continue
        if m["event"] == "start":
            started = at
            continue
        elapsed = float(m["s"] or 0.0)
        stages.append({"stage": m["stage"], "event": m["event"], "elapsed_s": elapsed})
        if m["event"] != "done":
            continue
        if at is None:  # no time stamp to place it: count it whole
            spans.append((float(len(spans)) * 1e9, float(len(spans)) * 1e9 + elapsed))
        else:
            spans.append((at - elapsed, at))
    return stages, _union(spans), first_line


def _union(spans: Iterable[tuple[float, float]]) -> float:
    total, last = 0.0, float("-inf")
    for a, b in sorted(spans):
        a = max(a, last)
        if b > a:
            total += b - a
            last = b
    return total


def task_rows(c: Cluster, runs: dict[str, str]) -> list[dict[str, Any]]:
    api, logs = c.api(), _task_logs(c)
    rows: list[dict[str, Any]] = []
    for name, run_id in runs.items():
        for ti in api.task_instances(DAG, run_id):
            sched, queued = _t(ti.get("scheduled_when")), _t(ti.get("queued_when"))
            start, end = _t(ti.get("start_date")), _t(ti.get("end_date"))
            try_no = int(ti.get("try_number") or 0)
            log = logs.get((run_id, ti["task_id"], int(ti.get("map_index", -1)), try_no))
            stages, work, first = _stage_spans(log)
            duration = (end - start) if start is not None and end is not None else None
            rows.append(
                {
                    "job": name,
                    "task": ti["task_id"] + (f"[{ti['map_index']}]" if ti.get("map_index", -1) >= 0 else ""),
                    "task_id": ti["task_id"],
                    "state": ti.get("state"),
                    "try_number": try_no,
                    "hostname": ti.get("hostname"),
                    "queue": ti.get("queue"),
                    "pool": ti.get("pool"),
                    "scheduled_to_queued_s": _diff(sched, queued),
                    "queued_to_start_s": _diff(queued, start),
                    "wait_s": _diff(sched if sched is not None else queued, start),
                    "duration_s": _round(duration),
                    "stage_work_s": round(work, 2),
                    "stage_to_first_line_s": round(first, 2),
                    "overhead_s": _round(duration - work) if duration is not None else None,
                    "stages": stages,
                    "span": (start, end) if start is not None and end is not None else None,
                    "log": str(log) if log else None,
                }
            )
    return rows


def _diff(a: float | None, b: float | None) -> float | None:
    return round(b - a, 2) if a is not None and b is not None else None


def _round(x: float | None) -> float | None:
    return round(x, 2) if x is not None else None


def _sum(rows: Iterable[dict[str, Any]], key: str) -> float:
    return round(sum(r[key] or 0.0 for r in rows), 1)


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    by_task: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_task[r["task_id"]].append(r)
    keys = ["wait_s", "scheduled_to_queued_s", "queued_to_start_s", "duration_s", "stage_work_s", "overhead_s"]
    keys.append("stage_to_first_line_s")
    return {
        "totals": {k: _sum(rows, k) for k in keys} | {"task_instances": len(rows)},
        "retries": sum(1 for r in rows if r["try_number"] > 1),
        "by_task": {
            t: {"count": len(rs), **{k: _sum(rs, k) for k in keys}, "stages_reused": _reused(rs)}
            for t, rs in by_task.items()
        },
    }


def _reused(rows: list[dict[str, Any]]) -> int:
    return sum(1 for r in rows for s in r["stages"] if s["event"] == "cached")


# ---------------------------------------------------------------------------------------------------- one config


def run_config(workers: int, inputs: list[dict[str, Any]], base: Path, timeout: float, keep: bool) -> dict[str, Any]:
    folder = base / f"cluster-{workers}w"
    print(f"\n== {workers} worker(s): starting a cluster in {folder}", flush=True)
    t_up = time.monotonic()
    c = up(folder, out=sys.stdout, workers=workers)
    result: dict[str, Any] = {
        "workers": workers,
        "layout": [f"{w['name']} (queues {','.join(w['queues'])}, concurrency {w['concurrency']})" for w in c.workers],
        "heavy_pool": {"name": c.heavy_pool, "slots": c.heavy_slots},
        "cluster_up_s": round(time.monotonic() - t_up, 1),
        "cluster_dir": str(folder),
    }
    try:
        api = c.api()
        t0 = time.time()
        runs = {
            i["name"]: api.trigger(
                DAG,
                {"input": i["path"], "target_languages": ["es"], "output": str(base / f"out-{workers}w" / i["name"])},
            )
            for i in inputs
        }
        print(f"triggered {len(runs)} runs in {time.time() - t0:.1f} s; waiting (at most {timeout:.0f} s)", flush=True)
        ended = api.wait_runs(DAG, runs, timeout, poll_s=5.0)
        docs = {name: api.run(DAG, run_id) for name, run_id in runs.items()}
        result["runs"] = [
            {
                "job": name,
                "run_id": runs[name],
                "state": d["state"],
                "latency_s": _diff(t0, _t(d.get("end_date"))),
                "started_after_s": _diff(t0, _t(d.get("start_date"))),
            }
            for name, d in docs.items()
        ]
        ends = [_t(d.get("end_date")) for d in docs.values()]
        ok = [d for d in docs.values() if d["state"] == "success"]
        all_ended = len(ended) == len(runs) and all(e is not None for e in ends)
        wall = max(e for e in ends if e is not None) - t0 if all_ended else None
        result["wall_s"] = _round(wall)
        result["jobs_ok"] = len(ok)
        result["jobs_per_hour"] = round(len(ok) * 3600.0 / wall, 2) if wall else None
        result["tasks"] = task_rows(c, runs)
        for r in result["runs"]:  # the job's latency with none of its tasks running: scheduling, waiting
            running = _union(t["span"] for t in result["tasks"] if t["job"] == r["job"] and t["span"])
            r["tasks_running_s"] = round(running, 1)
            r["no_task_running_s"] = round(r["latency_s"] - running, 1) if r["latency_s"] is not None else None
        result["summary"] = summarize(result["tasks"])
    finally:
        if keep:
            print(f"left running (--keep): python -m tools.cluster down --dir {folder}", flush=True)
        else:
            down(folder, out=sys.stdout)
    return result


# ---------------------------------------------------------------------------------------------------- report


def _f(x: float | None, fmt: str = ".1f") -> str:
    return "-" if x is None else format(x, fmt)


def report(doc: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console(width=140)
    con.print(f"\n[bold]inputs[/] ({doc['seconds']:g} s each, dubbed into Spanish):")
    for i in doc["inputs"]:
        con.print(f"  {i['name']}: {i['what']}")
    con.print(f"machine: {doc['cpus']} cores; heavy pool: one slot per core in every configuration")
    t = Table(title=f"dub_video throughput: {doc['jobs']} jobs triggered at once")
    for col in ("workers", "layout", "ok", "wall s", "jobs/hour", "job latency s (min-max)", "retries"):
        t.add_column(col, justify="left" if col == "layout" else "right")
    for c in doc["configs"]:
        lat = [r["latency_s"] for r in c.get("runs", []) if r["latency_s"] is not None]
        t.add_row(
            str(c["workers"]),
            "; ".join(c["layout"]),
            f"{c.get('jobs_ok', 0)}/{doc['jobs']}",
            _f(c.get("wall_s")),
            _f(c.get("jobs_per_hour"), ".2f"),
            f"{min(lat):.0f}-{max(lat):.0f}" if lat else "-",
            str(c.get("summary", {}).get("retries", "-")),
        )
    con.print(t)
    for c in doc["configs"]:
        if "summary" not in c:
            continue
        s = c["summary"]
        t = Table(
            title=f"{c['workers']} worker(s): where the time goes (seconds summed over the jobs' task instances)",
            caption="wait = ready -> started (sched->queued: scheduler, pool slots; queued->start: broker, worker "
            "slot, task process start); stage work = dubline's recorded stage time, model loading included; "
            "overhead = duration - stage work (task runner start-up, DAG parse, imports, database check, XCom); "
            "stage->1st line = from a stage's start to the task's next log line when that is a step or an engine's "
            "message (models loaded up front, inputs read; stages that log nothing before their end are not "
            "counted; the LLM loads later, inside translate's steps)",
        )
        cols = ["task", "n", "wait", "sched->queued", "queued->start", "duration", "stage work", "overhead"]
        cols += ["stage->1st line", "reused"]
        for col in cols:
            t.add_column(col, justify="left" if col == "task" else "right")
        items = sorted(s["by_task"].items(), key=lambda kv: -kv[1]["duration_s"])
        for name, v in [*items, ("all", {"count": s["totals"]["task_instances"], **s["totals"]})]:
            t.add_row(
                f"[bold]{name}[/]" if name == "all" else name,
                str(v["count"]),
                *(_f(v[k]) for k in ("wait_s", "scheduled_to_queued_s", "queued_to_start_s", "duration_s")),
                _f(v["stage_work_s"]),
                _f(v["overhead_s"]),
                _f(v["stage_to_first_line_s"]),
                str(v.get("stages_reused", _reused(c["tasks"]))),
            )
        con.print(t)
        busy = s["totals"]["duration_s"]
        if c.get("wall_s"):
            con.print(
                f"  task time {busy:.0f} s in a wall time of {c['wall_s']:.0f} s "
                f"({busy / c['wall_s']:.2f} tasks running on average on {doc['cpus']} cores); stage work "
                f"{s['totals']['stage_work_s']:.0f} s, overhead {s['totals']['overhead_s']:.0f} s, waiting "
                f"{s['totals']['wait_s']:.0f} s"
            )
            idle = [r["no_task_running_s"] for r in c["runs"] if r.get("no_task_running_s") is not None]
            con.print(
                f"  jobs' time with none of their tasks running (scheduling between tasks, waiting): "
                f"{sum(idle):.0f} s over {len(idle)} job(s), of {sum(r['latency_s'] or 0 for r in c['runs']):.0f} s "
                "of job latency"
            )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker counts to compare (default 1 2)")
    ap.add_argument("--jobs", type=int, default=4, help="jobs triggered at once (default 4)")
    ap.add_argument("--seconds", type=float, default=60.0, help="each input's length (default 60)")
    ap.add_argument("--dir", type=Path, default=None, help="work folder (default: a temporary one, removed)")
    ap.add_argument("--keep", action="store_true", help="leave the clusters running (and the work folder)")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    ap.add_argument("--timeout", type=float, default=5400.0, help="most seconds to wait for one configuration's runs")
    args = ap.parse_args(argv)
    if args.jobs < 1 or any(w < 1 for w in args.workers):
        ap.error("--jobs and --workers take numbers of at least 1")
    if args.dir:
        args.dir.mkdir(parents=True, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="dubline-bench-cluster-", dir=args.dir)
    base = Path(tmp).resolve()
    t0 = time.monotonic()
    inputs = make_inputs(base / "inputs", args.jobs, args.seconds)
    print(f"made {len(inputs)} inputs in {time.monotonic() - t0:.0f} s: " + ", ".join(i["name"] for i in inputs))
    doc: dict[str, Any] = {
        "jobs": args.jobs,
        "seconds": args.seconds,
        "cpus": os.cpu_count(),
        "inputs": [{k: v for k, v in i.items() if k != "sentences"} for i in inputs],
        "workers_meaning": "N alike Celery workers, each on the default and heavy queues (cluster up --workers N)",
        "configs": [],
    }
    failed = False
    try:
        for w in args.workers:
            c = run_config(w, inputs, base, args.timeout, args.keep)
            doc["configs"].append(c)
            failed |= c.get("jobs_ok", 0) != args.jobs
    finally:
        if args.json:
            args.json.write_text(json.dumps(doc, indent=1) + "\n")
        if not args.keep and not args.dir:
            import shutil

            shutil.rmtree(base, ignore_errors=True)
    report(doc)
    print(f"\ntotal {time.monotonic() - t0:.0f} s" + (f"; figures in {args.json}" if args.json else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
