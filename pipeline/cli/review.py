"""`dubline review`: the runs that wait for a person (the `dub_video` review gates, param `review`), and their
answers: approve the transcript or translations as they are, or apply edited scripts.

`pipeline` imports no Airflow: without `--api` the gates are read and answered in Airflow's metadata database
(the one `dubline dub --review` runs on, under the data folder) by the DAG folder's `dubline_review.py` in a
subprocess, as runner.py migrates that database; with `--api URL` through the REST API of a running Airflow
api-server (`/api/v2/.../hitlDetails`), as the signed-in user (`--token`, or `--user` and `--password`).
"""

from __future__ import annotations

import getpass
import json
import os
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from pipeline.cli.console import console, errors, script_args
from pipeline.core.config import get_settings
from pipeline.core.errors import InputError, SetupError

review_app = typer.Typer(
    help="Runs waiting for a review of their transcript or translations: list, approve, apply an edit.",
    no_args_is_help=True,
)

APPROVE = "Approve"  # the gates' options (dags/dubline_review.py)
APPLY = "Apply edited script"
TRANSCRIPT_GATE = "review_transcript"

ApiOption = Annotated[
    str, typer.Option("--api", help="an Airflow api-server's URL (e.g. http://localhost:8080); default: local runs")
]
TokenOption = Annotated[
    str, typer.Option("--token", envvar="AIRFLOW_API_TOKEN", help="the api-server's access token (with --api)")
]
UserOption = Annotated[str, typer.Option("--user", help="sign in to the api-server as this user (with --api)")]
PasswordOption = Annotated[str, typer.Option("--password", envvar="AIRFLOW_API_PASSWORD", help="that user's password")]
TaskOption = Annotated[
    str | None,
    typer.Option("--task", help="the gate: review_transcript or review_translations; default: the waiting one"),
]
ByOption = Annotated[
    str, typer.Option("--by", help="who answers (recorded as the approver; with --api: the signed-in user)")
]


# --- the two ways to the gates ----------------------------------------------------------------------


def _local(*args: str) -> Any:
    """Run dags/dubline_review.py against the local Airflow metadata database; its JSON answer."""
    from pipeline.cli.runner import airflow_env, prepare_airflow

    settings = get_settings()
    module = settings.resolved_dags_dir / "dubline_review.py"
    if not module.is_file():
        raise SetupError(f"{module} not found", "set DUBLINE_DAGS_DIR to the dags/ folder of dubline")
    prepare_airflow(settings)
    env = {**os.environ, **airflow_env(settings)}
    proc = subprocess.run([sys.executable, str(module), *args], env=env, capture_output=True, text=True)
    lines = proc.stdout.strip().splitlines()
    try:
        doc = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        doc = None
    if doc is None:
        tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
        raise SetupError(f"could not read Airflow's review gates: {tail}", "check AIRFLOW_HOME and its database")
    if isinstance(doc, dict) and "error" in doc:
        raise InputError(str(doc["error"]), "see the waiting reviews with `dubline review list`")
    return doc


class _Api:
    """The HITL routes of an Airflow api-server."""

    def __init__(self, url: str, token: str, user: str, password: str) -> None:
        self.url = url.rstrip("/")
        self.token = token or (self._sign_in(user, password) if user else "")

    def _sign_in(self, user: str, password: str) -> str:
        doc = self._call("POST", "/auth/token", {"username": user, "password": password}, auth=False)
        return str(doc["access_token"])

    def _call(self, method: str, path: str, body: Any = None, auth: bool = True) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if auth and self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as e:
            detail = e.read().decode(errors="replace")[:300]
            raise InputError(
                f"{method} {self.url}{path}: HTTP {e.code} {detail}",
                "check --api, and --token or --user/--password (a user allowed to answer this task)",
            ) from None
        except urllib.error.URLError as e:
            raise SetupError(f"cannot reach {self.url}: {e.reason}", "is the Airflow api-server running?") from None

    def pending(self, run_id: str | None) -> list[dict[str, Any]]:
        run = urllib.parse.quote(run_id or "~", safe="~")
        doc = self._call("GET", f"/api/v2/dags/~/dagRuns/{run}/hitlDetails?response_received=false&limit=100")
        out = []
        for d in doc.get("hitl_details", []):
            ti = d.get("task_instance") or {}
            if ti.get("state") not in ("awaiting_input", "deferred"):
                continue
            out.append(
                {
                    "dag_id": ti.get("dag_id", ""),
                    "run_id": ti.get("dag_run_id", ""),
                    "task_id": ti.get("task_id", ""),
                    "map_index": ti.get("map_index", -1),
                    "since": d.get("created_at", ""),
                    "subject": d.get("subject", ""),
                    "options": d.get("options", []),
                    "form": {k: (v.get("value") if isinstance(v, dict) else v) for k, v in d["params"].items()},
                }
            )
        return out

    def respond(self, gate: dict[str, Any], chosen: str, form: dict[str, Any]) -> dict[str, Any]:
        path = "/api/v2/dags/{}/dagRuns/{}/taskInstances/{}/{}/hitlDetails".format(
            *(urllib.parse.quote(str(gate[k]), safe="") for k in ("dag_id", "run_id", "task_id", "map_index"))
        )
        doc = self._call("PATCH", path, {"chosen_options": [chosen], "params_input": form})
        return {
            **gate,
            "chosen": chosen,
            "params_input": form,
            "responded_by": (doc.get("responded_by") or {}).get("name"),
        }


def _pending(api: _Api | None, run_id: str | None = None) -> list[dict[str, Any]]:
    if api is None:
        args = ["list"] + (["--run-id", run_id] if run_id else [])
        return list(_local(*args))
    return api.pending(run_id)


def _gate(api: _Api | None, run_id: str, task: str | None) -> dict[str, Any]:
    """The gate of `run_id` that waits (the one of `task`, if given)."""
    waiting = [g for g in _pending(api, run_id) if not task or g["task_id"] == task]
    where = f"run {run_id}" + (f" at {task}" if task else "")
    if not waiting:
        raise InputError(f"no review waits in {where}", "see the runs that wait with `dubline review list`")
    if len(waiting) > 1:
        names = ", ".join(sorted({g["task_id"] for g in waiting}))
        raise InputError(f"{len(waiting)} reviews wait in {where} ({names})", "say which with --task")
    return waiting[0]


def _answer(
    api: _Api | None, run_id: str, task: str | None, chosen: str, values: dict[str, Any], by: str
) -> dict[str, Any]:
    gate = _gate(api, run_id, task)
    form = {**gate["form"], **values}
    if api is None:
        args = ["respond", run_id, "--task", gate["task_id"], "--chosen", chosen, "--input", json.dumps(form)]
        return dict(_local(*args, "--by", by))
    return api.respond(gate, chosen, form)


def _api(url: str, token: str, user: str, password: str) -> _Api | None:
    return _Api(url, token, user, password) if url else None


# --- the commands -----------------------------------------------------------------------------------


@review_app.command("list")
@errors
def review_list(
    run_id: Annotated[str | None, typer.Option("--run", help="only this run")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    api: ApiOption = "",
    token: TokenOption = "",
    user: UserOption = "",
    password: PasswordOption = "",
) -> None:
    """The runs that wait for a person: DAG, run id, gate, since when, what to review."""
    waiting = _pending(_api(api, token, user, password), run_id)
    if as_json:
        console.print_json(json.dumps(waiting))
        return
    if not waiting:
        console.print("no review waits")
        return
    table = Table("dag", "run id", "task", "since", "subject", box=None, pad_edge=False)
    for g in waiting:
        task = g["task_id"] + (f"[{g['map_index']}]" if g.get("map_index", -1) >= 0 else "")
        table.add_row(g["dag_id"], g["run_id"], task, str(g["since"])[:19], escape(g["subject"]))
    console.print(table)


@review_app.command("approve")
@errors
def review_approve(
    run_id: Annotated[str, typer.Argument(help="the run's id (`dubline review list`)")],
    task: TaskOption = None,
    by: ByOption = "",
    api: ApiOption = "",
    token: TokenOption = "",
    user: UserOption = "",
    password: PasswordOption = "",
) -> None:
    """Approve the waiting transcript or translations as they are: the run goes on."""
    done = _answer(_api(api, token, user, password), run_id, task, APPROVE, {}, by or getpass.getuser())
    console.print(f"{done['task_id']} of {run_id}: approved by {done.get('responded_by') or by}")


@review_app.command("apply")
@errors
def review_apply(
    run_id: Annotated[str, typer.Argument(help="the run's id (`dubline review list`)")],
    script: Annotated[
        list[str],
        typer.Option(
            "--script", help="LANG=FILE: an edited script (SRT, WebVTT, DAPT or JSON; a path or URI the workers read)"
        ),
    ],
    task: TaskOption = None,
    by: ByOption = "",
    api: ApiOption = "",
    token: TokenOption = "",
    user: UserOption = "",
    password: PasswordOption = "",
) -> None:
    """Hand in edited scripts at the waiting gate: the transcript's (one) or the translations' (by language)."""
    client = _api(api, token, user, password)
    gate = _gate(client, run_id, task)
    transcript = gate["task_id"] == TRANSCRIPT_GATE
    scripts = script_args(script, transcript)
    values: dict[str, Any] = {"script": next(iter(scripts.values()))} if transcript else {"scripts": scripts}
    done = _answer(client, run_id, gate["task_id"], APPLY, values, by or getpass.getuser())
    given = ", ".join(f"{k}={v}" for k, v in scripts.items())
    console.print(
        f"{done['task_id']} of {run_id}: edited script applied ({given}), by {done.get('responded_by') or by}"
    )
