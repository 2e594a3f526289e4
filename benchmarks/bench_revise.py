"""`make bench-revise`: what re-rendering one edited line costs against the first dub.

Dubs ../shared/fixtures/lecture_en_60s.wav (the project's generated 60 s sample when the fixtures are absent)
into Spanish in a fresh data folder, exports the Spanish script as SRT, rewrites the text of one line (the
third), dubs again with `--script es=edited.srt`, and prints: both wall times and their ratio, the lines the
second run spoke and why, how many it reused, and how the outputs compare outside the edited line (the dub
speech track sample for sample; the delivered mix, normalized and watermarked as a whole, as a residual).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from benchmarks.bench import _inputs

EDIT = "Esta frase la ha corregido una persona en la revisión."


def _dub(src: Path, out: Path, env: dict[str, str], *extra: str) -> tuple[float, str]:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline.cli.app", "dub", str(src), "--to", "es", "--out", str(out), *extra],
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"bench-revise: dubbing {src} failed:\n{proc.stderr}")
    m = re.search(r"^job ([0-9a-f]+)$", proc.stdout, re.M)
    if not m:
        raise SystemExit(f"bench-revise: no job id in the output:\n{proc.stdout}")
    return wall, m.group(1)


def _cli(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "-m", "pipeline.cli.app", *args], env=env, check=True, capture_output=True)


def _result(job: str, stage: str) -> dict[str, Any]:
    from pipeline.cli.script import find_job
    from pipeline.core.config import get_settings
    from pipeline.core.stagerun import open_settings_store
    from pipeline.core.storage import get_json, key_of

    store = open_settings_store(get_settings())
    entry = next(e for e in find_job(store, job)["stages"] if e["stage"] == stage and e["label"] == "es")
    doc: dict[str, Any] = get_json(store, key_of(store, entry["result_uri"]))
    return doc


def _audio(uri: str, scratch: Path) -> tuple[np.ndarray, int]:
    from pipeline.core.config import get_settings
    from pipeline.core.stagerun import open_settings_store
    from pipeline.core.storage import key_of

    store = open_settings_store(get_settings())
    data, rate = sf.read(str(store.local_path(key_of(store, uri), scratch)), dtype="float64")
    return (data.mean(axis=1) if data.ndim > 1 else data), int(rate)


def _compare(first: str, second: str, index: int, scratch: Path) -> dict[str, float]:
    """Outside the edited line (its placement in either run, 10 ms each side): the dub speech track's largest
    sample difference, and the mix's residual against its level (dB)."""
    a_fit, b_fit = _result(first, "fit"), _result(second, "fit")
    lo = min(a_fit["spans"][index][0], b_fit["spans"][index][0]) - 0.01
    hi = max(a_fit["spans"][index][1], b_fit["spans"][index][1]) + 0.01
    out: dict[str, float] = {}
    for name, (stage, field) in {"speech": ("fit", "dub_speech_uri"), "mix": ("mix", "mix_uri")}.items():
        a, rate = _audio(_result(first, stage)[field], scratch)
        b, _ = _audio(_result(second, stage)[field], scratch)
        n = min(len(a), len(b))
        keep = np.ones(n, dtype=bool)
        keep[int(lo * rate) : int(hi * rate)] = False
        diff = a[:n][keep] - b[:n][keep]
        out[f"{name}_max_diff_outside"] = float(np.abs(diff).max(initial=0.0))
        level = float(np.sqrt(np.mean(a[:n][keep] ** 2))) + 1e-12
        out[f"{name}_residual_db"] = round(20 * np.log10(float(np.sqrt(np.mean(diff**2))) / level + 1e-12), 1)
    return out


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="dubline-bench-revise-") as tmp_s:
        tmp = Path(tmp_s)
        src = _inputs(tmp)[0][1]  # the audio input
        env = {**os.environ, "DUBLINE_DATA_DIR": str(tmp / "data")}
        os.environ["DUBLINE_DATA_DIR"] = env["DUBLINE_DATA_DIR"]
        first_s, first = _dub(src, tmp / "out1", env)
        lines = tmp / "es.json"
        _cli(env, "script", "export", first, "--lang", "es", "--format", "json", "--out", str(lines))
        doc = json.loads(lines.read_text())
        index = min(2, len(doc["lines"]) - 1)
        doc["lines"][index]["text"] = EDIT
        edited = tmp / "edited.json"
        edited.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
        second_s, second = _dub(src, tmp / "out2", env, "--script", f"es={edited}")
        report = json.loads(next((tmp / "out2").glob("*.report.json")).read_text())
        rendered = report["rendered"]["es"]
        figures = {
            "input": src.name,
            "first_run_s": round(first_s, 1),
            "rerun_s": round(second_s, 1),
            "ratio": round(second_s / first_s, 3),
            "edited_line": doc["lines"][index]["id"],
            "rendered": rendered["lines"],
            "reused": rendered["reused"],
            "stages_rerun": {
                s["stage"] + (f"[{s['language']}]" if s["language"] else ""): s["elapsed_s"]
                for s in report["stages"]
                if not s["cached"]
            },
            **_compare(first, second, index, tmp / "scratch"),
            "load_avg": os.getloadavg()[0],
        }
        print(
            f"first dub {figures['first_run_s']} s; after editing line {figures['edited_line']}: "
            f"{figures['rerun_s']} s ({figures['ratio']:.0%} of the first)"
        )
        print(f"spoken again: {figures['rendered']}; reused {figures['reused']} lines")
        print(
            f"outside the edited line: dub speech max difference {figures['speech_max_diff_outside']}, "
            f"mix residual {figures['mix_residual_db']} dB (the new watermark and loudness gain)"
        )
        print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
