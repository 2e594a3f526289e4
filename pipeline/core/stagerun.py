"""Stage execution as idempotent transactions over the object store.

A stage's outputs live under `stages/<stage>/<key>/`, where key is the sha256 of everything the output
depends on (input hashes, parameters, model ids and weights hashes, the stage's code version). The
stage writes its files first and its `result.json` last: a result that exists is complete, and running
the stage again with the same inputs returns it without doing the work.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Self, TypeVar
from urllib.parse import unquote, urlparse

from pydantic import BaseModel, ConfigDict, JsonValue, ValidationError

from models.system import forget_engines, load_mark, loads_since
from pipeline.core import progress
from pipeline.core.config import Settings
from pipeline.core.errors import ConfigError, DublineError, StageError
from pipeline.core.scratch import stage_scratch, sweep
from pipeline.core.storage import ObjectStore, get_json, key_of, open_store, put_json

# Bump a stage's version when its code changes what it produces: old results are then not reused.
STAGE_VERSIONS = {
    "ingest": 1,
    "transcribe": 1,
    "diarize": 1,
    "cast": 1,
    "translate": 1,
    "revise": 1,
    "synthesize": 1,
    "fit": 1,
    "separate": 1,
    "mix": 2,
    "mux": 2,
    "sign": 1,
    "enroll": 1,
    "read_book": 1,
    "narrate": 1,
    "package_book": 1,
    "read_script": 1,
    "map_dialogue": 1,
    "voice_descriptions": 1,
    "mix_description": 1,
    "render_described": 1,
    "describe_dub": 1,
}


# The engines a stage may use. Before a stage listed here runs, the models of every other engine are dropped
# (models.system.forget_engines): under `dubline dub` one process runs all the stages, and the LLM, Kokoro and
# Whisper (2 GiB together) need not sit under the separation, the mix and the mux. A stage not listed keeps
# everything. Dropping is always safe: a model still needed is loaded again (Whisper for QA: 0.5 s).
STAGE_ENGINES: dict[str, frozenset[str]] = {
    "transcribe": frozenset({"faster-whisper", "openai-whisper"}),
    "diarize": frozenset({"resemblyzer", "campp"}),
    "translate": frozenset({"llama.cpp"}),
    "separate": frozenset(),
    "fit": frozenset(),
    "mix": frozenset(),
    "mux": frozenset(),
    "sign": frozenset(),
    "package_book": frozenset(),
    "mix_description": frozenset(),
    "render_described": frozenset(),
}


def digest(material: Any) -> str:
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()


# a URI or path of a stage's object, in this store or where a store was (a ledger keeps the URIs it recorded)
STORED_ELSEWHERE = re.compile(r"^(?:file://|s3://|/).*?/(stages/[a-z_]+/[0-9a-f]{32}/.*)$")


def key_material(store: ObjectStore, material: Any) -> Any:
    """`material` as a stage key hashes it: every URI (or local path) of an object in the job's store
    replaced by the object's key inside the store. Keys hash content, never locations: the objects a stage
    reads are themselves content-addressed (`stages/<stage>/<key>/...`), so the key inside the store names
    the content, and the same job in a data folder that moved (or another bucket) gets the same keys, the
    same watermark payloads and the same outputs. StageError (a bug in the stage) if a store location is
    still in it, e.g. inside a longer string."""
    base = store.url.rstrip("/") + "/"
    root = unquote(urlparse(store.url).path).rstrip("/") + "/" if store.url.startswith("file:") else None

    def located_free(value: Any) -> Any:
        if isinstance(value, Path):
            value = str(value)
        if isinstance(value, str):
            if value.startswith(base):
                return value[len(base) :]
            if root is not None and value.startswith(root):
                return value[len(root) :]
            moved = STORED_ELSEWHERE.match(value)  # a stage's object recorded where the store was before
            return moved.group(1) if moved else value
        if isinstance(value, Mapping):
            return {k: located_free(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [located_free(v) for v in value]
        return value

    free = located_free(material)
    text = json.dumps(free, sort_keys=True, default=str)
    if base.rstrip("/") in text or (root is not None and root in text):
        raise StageError(f"a stage key names the store location {store.url}", "report this bug: keys hash content")
    return free


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


# A JSON document recorded as it is (an engine's model info, a report section): its inner shape belongs to
# the module that makes it, and a contract field of this type says so.
JsonDoc = dict[str, JsonValue]


class Contract(BaseModel):
    """A typed hand-off between stages (and between a DAG's tasks): small, JSON-serializable, strict about
    its fields so that a renamed or misspelt field fails where it is made, not three stages later."""

    model_config = ConfigDict(extra="forbid")

    def to_xcom(self) -> dict[str, Any]:
        """The JSON document Airflow passes between tasks (XCom carries JSON, not Python objects)."""
        return self.model_dump(mode="json")

    @classmethod
    def from_xcom(cls, doc: Mapping[str, Any]) -> Self:
        return cls.model_validate(dict(doc))

    # what a bad parameter's error calls the request, and the hint (see `from_params`)
    PARAMS_NAME: ClassVar[str] = "job"
    PARAMS_HINT: ClassVar[str] = "fix that parameter"

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Self:
        """Validate a DAG run's params (or a command's options); a bad one is a ConfigError naming it."""
        try:
            return cls.model_validate(dict(params))
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or f"the {cls.PARAMS_NAME}"
            why = str(first.get("msg", "invalid")).removeprefix("Value error, ")
            raise ConfigError(f"{cls.PARAMS_NAME} parameter {where}: {why}", cls.PARAMS_HINT) from None


class StageResult(Contract):
    """What every content-addressed stage returns: its own fields plus the run's bookkeeping, which
    `run_stage` fills in (the stage, its label, its key, how long it took and whether it was reused, and how
    much of that time went to loading models: by engine, in `model_loads`)."""

    stage: str = ""
    label: str = ""
    key: str = ""
    elapsed_s: float = 0.0
    cached: bool = False
    model_load_s: float = 0.0
    model_loads: dict[str, float] = {}


R = TypeVar("R", bound=StageResult)


def run_stage(
    settings: Settings,
    stage: str,
    material: dict[str, Any],
    fn: Callable[[StageRun], R],
    result_type: type[R],
    label: str = "",
) -> R:
    """Run `fn` once per distinct `material`; return its (recorded) result, a `result_type`."""
    store = open_settings_store(settings)
    key = digest(key_material(store, {"stage": stage, "version": STAGE_VERSIONS[stage], **material}))[:32]
    prefix = f"stages/{stage}/{key}"
    result_key = f"{prefix}/result.json"
    name = f"{stage}[{label}]" if label else stage
    if store.exists(result_key):
        cached = result_type.model_validate({**get_json(store, result_key), "cached": True})
        progress.emit(name, "cached", elapsed_s=cached.elapsed_s)
        return cached
    progress.emit(name, "start")
    if stage in STAGE_ENGINES:
        forget_engines(STAGE_ENGINES[stage])
    t0 = time.perf_counter()
    loads_mark = load_mark()
    scratch_root = settings.data_dir / "work"
    sweep(scratch_root, STAGE_VERSIONS)  # the scratch folders of killed runs (pipeline/core/scratch.py)
    try:
        with stage_scratch(scratch_root, stage) as tmp:
            made = fn(StageRun(store, settings, name, prefix, tmp))
    except DublineError as e:
        report_failure(name, e)
        raise
    except Exception as e:
        err = StageError(f"stage {name} failed: {type(e).__name__}: {e}")
        report_failure(name, err)
        raise err from e
    result = made.model_copy(
        update={
            "stage": stage,
            "label": label,
            "key": key,
            "elapsed_s": round(time.perf_counter() - t0, 3),
            "model_loads": (loads := loads_since(loads_mark)),
            "model_load_s": round(sum(loads.values()), 3),
            "cached": False,  # made now (a result built from a reused one carries its flag)
        }
    )
    put_json(store, result_key, result.model_dump(mode="json", exclude={"cached"}))
    progress.emit(name, "done", elapsed_s=result.elapsed_s)
    return result


def job_id(mux_key: str, location: str) -> str:
    """A job's id: its final stage's key (which covers the input, every language and every parameter)
    and where it was delivered. The same job run again has the same id."""
    return digest({"mux": mux_key, "location": location})[:24]


def write_job_manifest(
    store: ObjectStore,
    source: tuple[str, str],
    stage_results: Sequence[StageResult],
    final: StageResult,
    published: Mapping[str, Any],
    request: Mapping[str, Any] | None = None,
) -> str:
    """Write `jobs/<job id>/manifest.json`: the result document of every stage of the job (the
    content-addressed objects it made are listed in those) and what was delivered where. `source` is the
    input's (filename, sha256), `final` the stage whose key names the job. Written after the outputs, so a
    manifest present means the job's whole output is there. Returns its URI."""
    jid = job_id(final.key, str(published.get("location", "")))
    stages = {(r.stage, r.label, r.key) for r in [*stage_results, final] if r.key}
    doc = {
        "dubline_job": 1,
        "job_id": jid,
        "input": {"filename": source[0], "sha256": source[1]},
        "stages": [
            {"stage": st, "label": label, "key": key, "result_uri": store.uri(f"stages/{st}/{key}/result.json")}
            for st, label, key in sorted(stages)
        ],
        "location": published.get("location"),
        "outputs": published.get("files", {}),
        "report": published.get("report"),
    }
    if request is not None:  # the job as asked for: what `dubline retake` runs again
        doc["request"] = dict(request)
    return put_json(store, f"jobs/{jid}/manifest.json", doc)


def report_failure(stage: str, error: DublineError) -> None:
    """Tell the progress listeners once that `stage` failed with a user-facing error."""
    if not getattr(error, "_reported", False):
        progress.emit(stage, "failed", error=error.one_line(), exit_code=error.exit_code)
        error._reported = True  # type: ignore[attr-defined]
