"""The audiobook DAGs: both parse with the DAG folder, light, with their tasks, params and schedule; the
book DAG's params are BookRequest's; the inbox DAG, run once over an inbox, starts one `audiobook` run per
new manuscript and, run again, none."""

from __future__ import annotations

import json
import subprocess
import sys
import typing
from pathlib import Path
from typing import Any

import pytest

from tests.dags.helpers import airflow_env

REPO = Path(__file__).resolve().parents[2]

PROBE = r"""
import json, sys
from pathlib import Path
from airflow.dag_processing.dagbag import BundleDagBag
# as Airflow's DAG processor parses a bundle: its folder on sys.path (DAG files import dubline_tasks from it)
bag = BundleDagBag(dag_folder=sys.argv[1], bundle_path=Path(sys.argv[1]), bundle_name="dags-folder")
def describe(dag):
    if dag is None:
        return None
    return {
        "tasks": {t.task_id: sorted(t.downstream_task_ids) for t in dag.tasks},
        "mapped": sorted(t.task_id for t in dag.tasks if type(t).__name__.endswith("MappedOperator")),
        "params": {k: {**dag.params.get_param(k).schema, "description": dag.params.get_param(k).description,
                       "default": dag.params.get_param(k).value} for k in dag.params.keys()},
        "timetable": type(dag.timetable).__name__,
        "schedule": getattr(dag.timetable, "expression", None),
        "catchup": dag.catchup,
        "max_active_runs": dag.max_active_runs,
        "tags": sorted(dag.tags),
    }
print(json.dumps({
    "errors": {k: str(v) for k, v in bag.import_errors.items()},
    "heavy": sorted(m for m in ("torch", "numpy", "soundfile", "ffmpeg", "onnxruntime", "kokoro", "faster_whisper",
                                "ebooklib", "bs4", "lxml", "markdown_it", "pysbd", "num2words", "pipeline")
                    if m in sys.modules),
    "audiobook": describe(bag.dags.get("audiobook")),
    "audiobook_inbox": describe(bag.dags.get("audiobook_inbox")),
}))
"""


def _probe(tmp_path: Path, **env: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, str(REPO / "dags")],
        capture_output=True,
        text=True,
        env=airflow_env(tmp_path / "airflow", **env),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    info: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return info


@pytest.fixture(scope="module")
def parsed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _probe(tmp_path_factory.mktemp("parse"))


def test_both_dags_parse_light(parsed: dict[str, Any]) -> None:
    assert parsed["errors"] == {}
    assert parsed["audiobook"] is not None and parsed["audiobook_inbox"] is not None
    assert parsed["heavy"] == [], f"DAG parsing imported {parsed['heavy']}"


def test_audiobook_tasks(parsed: dict[str, Any]) -> None:
    dag = parsed["audiobook"]
    assert dag["tasks"] == {
        "configure": ["narrate", "package", "publish", "read"],
        "read": ["chapters", "narrate", "package", "publish"],
        "chapters": ["narrate"],
        "narrate": ["package", "publish"],
        "package": ["publish"],
        "publish": [],
    }
    assert dag["mapped"] == ["narrate"]  # one task instance per chapter
    assert dag["timetable"] == "NullTimetable"
    assert dag["max_active_runs"] == 2 and dag["catchup"] is False
    assert dag["tags"] == ["audiobook", "dubline"]


def test_audiobook_params_are_the_book_request(parsed: dict[str, Any]) -> None:
    """The trigger form's params and BookRequest (what `configure` validates) name the same fields and the
    same style choices; each param says what it is; the defaults plus a book validate."""
    from pipeline.products.audiobook.contracts import BookRequest, Style

    params = parsed["audiobook"]["params"]
    assert sorted(params) == sorted(BookRequest.model_fields)
    assert sorted(params["style"]["enum"]) == sorted(typing.get_args(Style))
    assert all(p["description"] for p in params.values())
    assert params["read_all"]["type"] == "boolean"
    defaults = {k: p["default"] for k, p in params.items()}
    request = BookRequest.from_params({**defaults, "book": "moby.epub"})
    assert request.book == "moby.epub" and request.style == "" and request.read_all is False


def test_inbox_dag_tasks_and_default_schedule(parsed: dict[str, Any]) -> None:
    from pipeline.products.audiobook.contracts import Style

    dag = parsed["audiobook_inbox"]
    assert dag["tasks"] == {"find": ["start_book"], "start_book": []}
    assert dag["mapped"] == ["start_book"]  # one trigger per new manuscript
    assert dag["schedule"] == "0 * * * *"  # @hourly
    assert dag["catchup"] is False and dag["max_active_runs"] == 1
    assert sorted(dag["params"]) == ["ident", "inbox", "language", "output", "settle_s", "style", "voice"]
    assert sorted(dag["params"]["style"]["enum"]) == sorted(typing.get_args(Style))


def test_inbox_dag_schedule_from_the_environment(tmp_path: Path) -> None:
    info = _probe(tmp_path, DUBLINE_AUDIOBOOK_INBOX_SCHEDULE="*/15 6-20 * * *")
    assert info["errors"] == {}
    assert info["audiobook_inbox"]["schedule"] == "*/15 6-20 * * *"


RUN_INBOX = r"""
import importlib.util, json, sys
from pathlib import Path
dags = sys.argv[1]
sys.path.append(dags)  # as Airflow does: the DAG file imports dubline_tasks
spec = importlib.util.spec_from_file_location("audiobook_inbox_dag_file", f"{dags}/audiobook_inbox.py")
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
from airflow.models.dagrun import DagRun
from airflow.settings import Session

def once(conf):
    dr = module.audiobook_inbox_dag.test(run_conf=conf)
    session = Session()
    tis = sorted([t.task_id, t.map_index, str(t.state)] for t in dr.get_task_instances(session=session))
    runs = sorted([r.run_id, str(r.state), r.conf] for r in session.query(DagRun).filter(DagRun.dag_id == "audiobook"))
    session.close()
    return {"state": str(dr.state), "tis": tis, "runs": runs}

conf = json.loads(sys.argv[2])
print(json.dumps([once(conf), once(conf), once({**conf, "inbox": ""})]))
"""


@pytest.mark.slow
def test_inbox_dag_starts_one_book_run_per_new_manuscript(tmp_path: Path) -> None:
    """dag.test() of audiobook_inbox over an inbox of two manuscripts (and a copy of one, and a non-manuscript):
    two queued `audiobook` runs with the books' confs and content run ids; run again, none; no inbox, skipped."""
    import hashlib

    from pipeline.products.audiobook.contracts import BookRequest

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    books = {"moby.md": b"# Chapter 1\n\nCall me Ishmael.\n", "tale.txt": b"CHAPTER I\n\nIt was the best of times.\n"}
    for name, data in books.items():
        (inbox / name).write_bytes(data)
    (inbox / "z copy of moby.md").write_bytes(books["moby.md"])  # listed after moby.md: moby.md is the one started
    (inbox / "cover.jpg").write_bytes(b"jpeg")
    home = tmp_path / "airflow"
    env = airflow_env(home, DUBLINE_DATA_DIR=str(tmp_path / "data"), DUBLINE_TASK_RETRIES="0")
    migrate = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], env=env, capture_output=True, text=True, timeout=300
    )
    assert migrate.returncode == 0, migrate.stderr[-2000:]

    conf = {"inbox": str(inbox), "output": str(tmp_path / "out"), "style": "calm", "settle_s": 0}
    proc = subprocess.run(
        [sys.executable, "-c", RUN_INBOX, str(REPO / "dags"), json.dumps(conf)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    first, second, no_inbox = json.loads(proc.stdout.strip().splitlines()[-1])

    assert first["state"] == "success"
    assert first["tis"] == [
        ["find", -1, "success"],
        ["start_book", 0, "success"],
        ["start_book", 1, "success"],
    ]
    expected = sorted(
        [f"inbox__{hashlib.sha256(data).hexdigest()[:16]}", "queued", (inbox / name).resolve().as_uri(), name]
        for name, data in books.items()
    )
    runs = first["runs"]
    assert [[r[0], r[1], r[2]["book"]] for r in runs] == [e[:3] for e in expected]
    for run, (*_, name) in zip(runs, expected, strict=True):
        request = BookRequest.from_params(run[2])
        assert request.output == str(tmp_path / "out" / Path(name).stem)
        assert request.style == "calm"

    assert second["state"] == "success"
    assert second["tis"] == [["find", -1, "success"], ["start_book", -1, "skipped"]]  # nothing new: none
    assert second["runs"] == runs

    assert no_inbox["state"] == "success"
    assert no_inbox["tis"] == [["find", -1, "skipped"], ["start_book", -1, "skipped"]]
    assert no_inbox["runs"] == runs


RUN_BOOK = r"""
import importlib.util, json, sys
from pathlib import Path
dags, record = sys.argv[1], Path(sys.argv[2])
sys.path.append(dags)
# the stages replaced by fakes of the same signatures: this checks the DAG's wiring, not the stages
from pipeline.products.audiobook import narrate, package, publish, read
from pipeline.products.audiobook.contracts import BookPublished, BookRead, ChapterInfo, ChapterNarrated, Packaged

import types, typing
from pydantic import BaseModel

TITLES = {1: "Loomings", 2: "The Carpet-Bag", 3: "The Spouter-Inn"}

def dummy(tp):
    origin = typing.get_origin(tp)
    if origin is list:
        return []
    if origin is dict:
        return {}
    if origin is typing.Literal:
        return typing.get_args(tp)[0]
    if origin is typing.Union or origin is types.UnionType:
        return dummy(next(a for a in typing.get_args(tp) if a is not type(None)))
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return fake(tp).model_dump(mode="json")
    return {bool: False, int: 0, float: 0.0}.get(tp, "x")

def fake(cls, **given):
    # the fields the test names, and any other required field of the contract filled with a placeholder
    values = {n: dummy(f.annotation) for n, f in cls.model_fields.items() if f.is_required() and n not in given}
    return cls.model_validate({**values, **given})

def note(*entry):
    with record.open("a") as f:
        f.write(json.dumps(entry) + "\n")

def fake_read(settings, request):
    note("read", request.book, request.style)
    chapters = [fake(ChapterInfo, index=i, title=t) for i, t in TITLES.items()]
    return fake(BookRead, title="Moby-Dick", chapters=chapters)

def fake_narrate(settings, request, book, index):
    note("narrate", index, book.title)
    return fake(ChapterNarrated, index=index, title=TITLES[index], audio_uri=f"file:///store/ch{index}.wav")

def fake_package(settings, request, book, chapters):
    note("package", [c.index for c in chapters])
    return fake(Packaged, m4b_uri="file:///store/moby.m4b")

def fake_publish(settings, request, book, chapters, packaged):
    note("publish", [c.audio_uri for c in chapters], packaged.m4b_uri, request.output)
    return fake(BookPublished, location=request.output)

read.read_book, narrate.narrate_chapter = fake_read, fake_narrate
package.package_book, publish.publish_book = fake_package, fake_publish

spec = importlib.util.spec_from_file_location("audiobook_dag_file", f"{dags}/audiobook.py")
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
from airflow.settings import Session

out = []
for conf in json.loads(sys.argv[3]):
    dr = module.audiobook_dag.test(run_conf=conf)
    session = Session()
    tis = sorted([t.task_id, t.map_index, str(t.state), t.rendered_map_index]
                 for t in dr.get_task_instances(session=session))
    session.close()
    out.append({"state": str(dr.state), "tis": tis})
print(json.dumps(out))
"""


@pytest.mark.slow
def test_audiobook_dag_maps_narration_over_the_chapters(tmp_path: Path) -> None:
    """dag.test() of `audiobook` with the stages replaced by fakes: one narrate instance per chapter, named
    by the chapter's number and title, their results in chapter order into package and publish; a bad
    param fails `configure` and nothing is read."""
    home = tmp_path / "airflow"
    env = airflow_env(home, DUBLINE_DATA_DIR=str(tmp_path / "data"), DUBLINE_TASK_RETRIES="0")
    migrate = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], env=env, capture_output=True, text=True, timeout=300
    )
    assert migrate.returncode == 0, migrate.stderr[-2000:]
    record = tmp_path / "calls.jsonl"
    confs = [{"book": "moby.md", "style": "calm", "output": "/books/moby"}, {"book": "moby.md", "voice": "george"}]
    proc = subprocess.run(
        [sys.executable, "-c", RUN_BOOK, str(REPO / "dags"), str(record), json.dumps(confs)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    good, bad = json.loads(proc.stdout.strip().splitlines()[-1])

    assert good["state"] == "success", good
    assert good["tis"] == [
        ["chapters", -1, "success", None],
        ["configure", -1, "success", None],
        ["narrate", 0, "success", "01 Loomings"],
        ["narrate", 1, "success", "02 The Carpet-Bag"],
        ["narrate", 2, "success", "03 The Spouter-Inn"],
        ["package", -1, "success", None],
        ["publish", -1, "success", None],
        ["read", -1, "success", None],
    ]
    calls = [json.loads(line) for line in record.read_text().splitlines()]
    assert calls[0] == ["read", "moby.md", "calm"]
    assert sorted(c[1] for c in calls if c[0] == "narrate") == [1, 2, 3]
    assert ["package", [1, 2, 3]] in calls
    assert [
        "publish",
        ["file:///store/ch1.wav", "file:///store/ch2.wav", "file:///store/ch3.wav"],
        "file:///store/moby.m4b",
        "/books/moby",
    ] in calls

    assert bad["state"] == "failed"
    assert ["configure", -1, "failed", None] in bad["tis"]
    assert [c for c in calls if c[0] == "read"] == [calls[0]]  # the bad run read nothing
