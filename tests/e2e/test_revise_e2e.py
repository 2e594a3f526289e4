"""Review and revision end to end: dub the sample, export its Spanish script, edit one line's text in the
SRT, dub again with `--script es=edited.srt`: exactly that line is spoken again (the report says so), the dub
speech track outside that line is the same to the sample, the report and the provenance name the edit.
Then `dubline retake` of another line re-renders only that one."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

DUBLINE = [sys.executable, "-m", "pipeline.cli.app"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([*DUBLINE, *args], capture_output=True, text=True, env=os.environ.copy(), timeout=1200)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def _job(proc: subprocess.CompletedProcess[str]) -> str:
    m = re.search(r"^job ([0-9a-f]+)$", proc.stdout, re.M)
    assert m, proc.stdout
    return m.group(1)


def _stage(job: str, stage: str, label: str) -> dict[str, Any]:
    from pipeline.cli.script import find_job
    from pipeline.core.config import get_settings
    from pipeline.core.stagerun import open_settings_store
    from pipeline.core.storage import get_json, key_of

    store = open_settings_store(get_settings())
    manifest = find_job(store, job)
    [entry] = [e for e in manifest["stages"] if e["stage"] == stage and e["label"] == label]
    doc: dict[str, Any] = get_json(store, key_of(store, entry["result_uri"]))
    return doc


def _track(job: str) -> tuple[np.ndarray, int]:
    from pipeline.core.config import get_settings
    from pipeline.core.stagerun import open_settings_store
    from pipeline.core.storage import key_of

    store = open_settings_store(get_settings())
    uri = _stage(job, "fit", "es")["dub_speech_uri"]
    data, rate = sf.read(str(store.local_path(key_of(store, uri), Path(os.environ.get("TMPDIR", "/tmp")))))
    return np.asarray(data, dtype=np.float64), int(rate)


def _outside(a: np.ndarray, b: np.ndarray, rate: int, span: tuple[float, float]) -> tuple[float, float]:
    """The largest sample difference outside `span` (seconds) and inside it."""
    n = min(len(a), len(b))
    lo, hi = int(span[0] * rate), int(span[1] * rate)
    mask = np.ones(n, dtype=bool)
    mask[lo:hi] = False
    diff = np.abs(a[:n] - b[:n])
    return float(diff[mask].max(initial=0.0)), float(diff[~mask].max(initial=0.0))


@pytest.mark.slow
def test_edit_one_line_rerenders_only_that_line(tmp_path: Path, sample_video: Path) -> None:
    first = _run("dub", str(sample_video), "--to", "es", "--out", str(tmp_path / "out1"))
    job = _job(first)
    exported = tmp_path / "talk.es.json"
    _run("script", "export", job, "--lang", "es", "--format", "json", "--out", str(exported))
    lines = json.loads(exported.read_text())["lines"]
    assert len(lines) >= 3
    target = lines[1]
    srt = tmp_path / "talk.es.srt"
    _run("script", "export", job, "--lang", "es", "--format", "srt", "--out", str(srt))
    # the reviewer rewrites the second line (all of its cues: the rules may have split it)
    blocks = srt.read_text(encoding="utf-8").strip().split("\n\n")
    edited_blocks, done = [], False
    for block in blocks:
        number, times, *_ = block.split("\n")
        start = _seconds(times.split(" --> ")[0])
        if target["start"] - 0.01 <= start < target["end"]:
            edited_blocks.append(f"{number}\n{times}\n{'' if done else 'Esta frase la ha corregido una persona.'}")
            done = True
        else:
            edited_blocks.append(block)
    assert done
    srt.write_text("\n\n".join(b for b in edited_blocks if b.split("\n")[2:] != [""]) + "\n", encoding="utf-8")
    checked = _run("script", "check", job, str(srt), "--lang", "es")
    assert target["id"] in checked.stdout

    second = _run("dub", str(sample_video), "--to", "es", "--out", str(tmp_path / "out2"), "--script", f"es={srt}")
    report = json.loads((tmp_path / "out2" / "talk.report.json").read_text())
    rendered = report["rendered"]["es"]
    assert list(rendered["lines"]) == [target["id"]], rendered
    assert rendered["lines"][target["id"]] == "translation edited"
    assert rendered["reused"] == len(lines) - 1
    [edit] = [r for r in report["revisions"] if r["kind"] == "translation"]
    assert edit["lines"] == [target["id"]] and edit["edit"] == "talk.es.srt" and edit["before_sha256"]
    provenance = "".join(p.read_text() for p in (tmp_path / "out2").glob("*.provenance.json"))
    assert edit["edit_sha256"] in provenance

    # the dub speech track: unchanged outside the edited line's placement, changed inside it
    fit = _stage(_job(second), "fit", "es")
    line = [x["id"] for x in lines].index(target["id"])  # the fit's spans are in the lines' order
    span = fit["spans"][line]
    a, rate = _track(job)
    b, _ = _track(_job(second))
    before_span = _stage(job, "fit", "es")["spans"][line]
    window = (min(span[0], before_span[0]) - 0.01, max(span[1], before_span[1]) + 0.01)
    outside, inside = _outside(a, b, rate, window)
    assert outside == 0.0, f"the dub changed outside {window}: max difference {outside}"
    assert inside > 0.01

    # a retake of another line: that line only, with its new rate
    other = lines[0]["id"]
    third = _run("retake", _job(second), "--lang", "es", "--line", other, "--rate", "0.9")
    report3 = json.loads((tmp_path / "out2" / "talk.report.json").read_text())
    assert report3["rendered"]["es"]["lines"] == {other: "retake (rate 0.9)"}, third.stdout
    assert report3["params"]["retakes"] == {"es": {other: {"style": "", "rate": 0.9, "take": 1}}}


def _seconds(stamp: str) -> float:
    h, m, rest = stamp.strip().split(":")
    s, ms = rest.split(",")
    return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000
