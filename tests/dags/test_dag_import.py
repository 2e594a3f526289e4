"""The DAG folder parses without errors, fast, and without importing any ML library."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

PROBE = r"""
import json, sys, time
from pathlib import Path
from airflow.dag_processing.dagbag import BundleDagBag
t = time.perf_counter()
# as Airflow's DAG processor parses a bundle: its folder on sys.path (DAG files import dubline_tasks from it)
bag = BundleDagBag(dag_folder=sys.argv[1], bundle_path=Path(sys.argv[1]), bundle_name="dags-folder")
elapsed = time.perf_counter() - t
dag = bag.dags.get("dub_video")
print(json.dumps({
    "errors": {k: str(v) for k, v in bag.import_errors.items()},
    "dags": sorted(bag.dags),
    "parse_s": elapsed,
    "heavy": sorted(m for m in ("torch", "faster_whisper", "ctranslate2", "whisper", "piper", "onnxruntime",
                                "numpy", "soundfile", "ffmpeg") if m in sys.modules),
    "tasks": sorted(dag.task_ids) if dag else [],
    "params": sorted(dag.params.keys()) if dag else [],
    "schema": {k: dag.params.get_param(k).schema for k in dag.params.keys()} if dag else {},
    "defaults": {k: dag.params.get_param(k).value for k in dag.params.keys()} if dag else {},
}))
"""


def _probe(tmp_path: Path) -> dict:
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
    }
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, str(REPO / "dags")], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_dag_folder_imports_cleanly_fast_and_light(tmp_path: Path) -> None:
    info = _probe(tmp_path)
    assert info["errors"] == {}
    assert "dub_video" in info["dags"]
    assert info["parse_s"] < 2.0, f"parsing the DAG folder took {info['parse_s']:.2f} s"
    assert info["heavy"] == [], f"DAG parsing imported {info['heavy']}"


def test_dub_video_tasks_and_params(tmp_path: Path) -> None:
    info = _probe(tmp_path)
    assert info["tasks"] == sorted(
        ["configure", "ingest", "transcribe", "diarize", "cast", "review_transcript", "revise_transcript", "targets",
         "translate", "review_translations", "revise_translation", "synthesize", "fit", "separate", "mix", "describe",
         "mux", "publish"]
    )
    assert info["params"] == [
        "bed", "containers", "denoise", "describe", "editor", "glossary", "input", "loudness_profile", "output",
        "profile", "retakes", "review", "scripts", "series", "source_language", "speaker_people", "speakers", "stems",
        "style", "subtitle_profile", "target_languages"]


def test_dub_video_params_are_the_dub_request(tmp_path: Path) -> None:
    """The DAG's params (what Airflow's trigger form offers) and DubRequest (what the configure task
    validates) name the same fields and the same choices, and the params' defaults validate."""
    import typing

    from pipeline.products.dubbing.contracts import DubRequest

    info = _probe(tmp_path)
    schema = info["schema"]
    assert sorted(schema) == sorted(DubRequest.model_fields)
    for name, field in DubRequest.model_fields.items():
        annotation = field.annotation
        if typing.get_origin(annotation) is list:
            annotation = typing.get_args(annotation)[0]
        if typing.get_origin(annotation) is typing.Literal:
            enum = schema[name].get("enum") or schema[name].get("items", {}).get("enum")
            assert sorted(enum) == sorted(typing.get_args(annotation)), name
    defaults = {**info["defaults"], "input": "talk.mp4"}
    assert DubRequest.from_params(defaults).target_languages == ["es"]
