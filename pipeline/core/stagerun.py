"""Stage execution as idempotent transactions over the object store.

A stage's outputs live under `stages/<stage>/<key>/`, where key is the sha256 of everything the output
depends on (input hashes, parameters, model ids and weights hashes, the stage's code version). The
stage writes its files first and its `result.json` last: a result that exists is complete, and running
the stage again with the same inputs returns it without doing the work.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline.core import progress
from pipeline.core.config import Settings
from pipeline.core.errors import DublineError, StageError
from pipeline.core.storage import ObjectStore, get_json, key_of, open_store, put_json

# Bump a stage's version when its code changes what it produces: old results are then not reused.
STAGE_VERSIONS = {
    "ingest": 1,
    "transcribe": 1,
    "diarize": 1,
    "cast": 1,
    "translate": 1,
    "synthesize": 1,
    "fit": 1,
    "separate": 1,
    "mix": 2,
    "mux": 2,
    "sign": 1,
    "enroll": 1,
}


def digest(material: Any) -> str:
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()


class StageRun:
    """What a stage function gets: a scratch folder, the store and the key prefix to publish under."""

    def __init__(self, store: ObjectStore, settings: Settings, stage: str, prefix: str, scratch: Path) -> None:
        self.store = store
        self.settings = settings
        self.stage = stage
        self.prefix = prefix
        self.scratch = scratch

    def put(self, name: str, path: Path) -> str:
        return self.store.put_file(f"{self.prefix}/{name}", path)

    def put_bytes(self, name: str, data: bytes) -> str:
        return self.store.put_bytes(f"{self.prefix}/{name}", data)

    def fetch(self, uri: str) -> Path:
        """A local path for an object of the store (downloaded into scratch for a remote store)."""
        return self.store.local_path(key_of(self.store, uri), self.scratch / "in")

    def step(self, done: int, total: int, label: str = "") -> None:
        progress.emit(self.stage, "step", done=done, total=total, label=label)


def open_settings_store(settings: Settings) -> ObjectStore:
    return open_store(settings.resolved_store_url, settings)


def run_stage(
    settings: Settings,
    stage: str,
    material: dict[str, Any],
    fn: Callable[[StageRun], dict[str, Any]],
    label: str = "",
) -> dict[str, Any]:
    """Run `fn` once per distinct `material`; return its (recorded) result dict."""
    store = open_settings_store(settings)
    key = digest({"stage": stage, "version": STAGE_VERSIONS[stage], **material})[:32]
    prefix = f"stages/{stage}/{key}"
    result_key = f"{prefix}/result.json"
    name = f"{stage}[{label}]" if label else stage
    if store.exists(result_key):
        result = dict(get_json(store, result_key))
        result["cached"] = True
        progress.emit(name, "cached", elapsed_s=result.get("elapsed_s", 0.0))
        return result
    progress.emit(name, "start")
    t0 = time.perf_counter()
    scratch_root = settings.data_dir / "work"
    scratch_root.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(prefix=f"{stage}-", dir=scratch_root) as tmp:
            result = fn(StageRun(store, settings, name, prefix, Path(tmp)))
    except DublineError as e:
        _report_failure(name, e)
        raise
    except Exception as e:
        err = StageError(f"stage {name} failed: {type(e).__name__}: {e}")
        _report_failure(name, err)
        raise err from e
    result = {**result, "stage": stage, "label": label, "key": key, "elapsed_s": round(time.perf_counter() - t0, 3)}
    put_json(store, result_key, result)
    result["cached"] = False
    progress.emit(name, "done", elapsed_s=result["elapsed_s"])
    return result


def job_id(muxed: dict[str, Any], location: str) -> str:
    """A job's id: its final stage's key (which covers the input, every language and every parameter)
    and where it was delivered. The same job run again has the same id."""
    return digest({"mux": muxed["key"], "location": location})[:24]


def write_job_manifest(
    store: ObjectStore,
    ingested: dict[str, Any],
    stage_results: list[dict[str, Any]],
    muxed: dict[str, Any],
    published: dict[str, Any],
) -> str:
    """Write `jobs/<job id>/manifest.json`: the result document of every stage of the job (the
    content-addressed objects it made are listed in those) and what was delivered where. Written after
    the outputs, so a manifest present means the job's whole output is there. Returns its URI."""
    jid = job_id(muxed, str(published.get("location", "")))
    stages = {(r["stage"], r.get("label", ""), r["key"]) for r in [*stage_results, muxed] if r.get("key")}
    doc = {
        "dubline_job": 1,
        "job_id": jid,
        "input": {"filename": ingested["filename"], "sha256": ingested["source_sha256"]},
        "stages": [
            {"stage": st, "label": label, "key": key, "result_uri": store.uri(f"stages/{st}/{key}/result.json")}
            for st, label, key in sorted(stages)
        ],
        "location": published.get("location"),
        "outputs": published.get("files", {}),
        "report": published.get("report"),
    }
    return put_json(store, f"jobs/{jid}/manifest.json", doc)


def _report_failure(stage: str, error: DublineError) -> None:
    if not getattr(error, "_reported", False):
        progress.emit(stage, "failed", error=error.one_line(), exit_code=error.exit_code)
        error._reported = True  # type: ignore[attr-defined]


def invoke_stage(fn_name: str, settings: Settings, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Call `pipeline.stages.<module>.<function>`; any user-facing error raised before or inside the
    stage's transaction is reported once (progress 'failed' event) and re-raised."""
    import importlib

    module, _, name = fn_name.rpartition(".")
    for package in ("pipeline.stages", "pipeline.products.dubbing", "pipeline.voice"):
        try:
            fn = getattr(importlib.import_module(f"{package}.{module}"), name)
            break
        except ModuleNotFoundError:
            continue
    else:
        raise ModuleNotFoundError(module)
    try:
        from pipeline.ledger import db

        db.require_ready(settings)  # DAG tasks refuse an un-migrated project database (checked once per process)
        return fn(settings, *args, **kwargs)  # type: ignore[no-any-return]
    except DublineError as e:
        _report_failure(module, e)
        raise
