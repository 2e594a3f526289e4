"""`dubline script`: export a finished job's transcript or translation for review, check an edited file against
it (what changed, which lines it makes stale) and show the revisions recorded for the job's input.

A job is found by its id (or a unique prefix of it, as git takes commits) in the store: `jobs/<id>/manifest.json`
lists the result of each stage, and each result names the Script it wrote. The source language's script is the
`cast` stage's (the transcript); a target language's is its `fit` stage's (the translations as spoken).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from pipeline.cli.console import console, errors
from pipeline.core.config import get_settings
from pipeline.core.errors import InputError

if TYPE_CHECKING:
    from pipeline.core.script import Script
    from pipeline.core.storage import ObjectStore

script_app = typer.Typer(
    help="A job's transcript and translations under review: export, check an edit, revision history.",
    no_args_is_help=True,
)

SOURCE = "source"
EXTENSIONS = {"srt": "srt", "vtt": "vtt", "dapt": "ttml", "json": "json"}
# where each kind of script is, best first: the transcript after casting; a language's lines as spoken
SOURCE_STAGES = ("cast", "diarize", "transcribe")
TARGET_STAGES = ("fit", "synthesize", "translate")


# --- finding a job and its scripts ------------------------------------------------------------------


def _store() -> ObjectStore:
    from pipeline.core.stagerun import open_settings_store

    return open_settings_store(get_settings())


def _job_ids(store: ObjectStore) -> list[str]:
    ids = set()
    for key in store.list("jobs/"):
        parts = key.strip("/").split("/")
        if len(parts) == 3 and parts[0] == "jobs" and parts[2] == "manifest.json":
            ids.add(parts[1])
    return sorted(ids)


def find_job(store: ObjectStore, ref: str) -> dict[str, Any]:
    """The manifest of the job whose id is `ref` or starts with it (a unique prefix)."""
    from pipeline.core.storage import get_json

    ref = ref.strip()
    if not ref or "/" in ref:
        raise InputError(f"job id {ref!r} is not a job id", "give the id from the job's manifest (jobs/<id>/)")
    ids = _job_ids(store)
    found = [ref] if ref in ids else [i for i in ids if i.startswith(ref)]
    if not found:
        raise InputError(
            f"no job {ref!r} in the store {store.url}",
            "give the id of a finished job (the folder name under jobs/ in the store)",
        )
    if len(found) > 1:
        shown = ", ".join(found[:5]) + (", ..." if len(found) > 5 else "")
        raise InputError(f"job id {ref!r} is ambiguous: {len(found)} jobs start with it ({shown})", "give more of it")
    doc: dict[str, Any] = get_json(store, f"jobs/{found[0]}/manifest.json")
    doc.setdefault("job_id", found[0])
    return doc


def _results(store: ObjectStore, manifest: dict[str, Any], stages: tuple[str, ...]) -> list[dict[str, Any]]:
    """The results of those stages in the job, in the order of `stages`, each with its stage and label."""
    from pipeline.core.storage import get_json, key_of

    out: list[dict[str, Any]] = []
    for stage in stages:
        for entry in manifest.get("stages", []):
            if entry.get("stage") == stage:
                result = dict(get_json(store, key_of(store, str(entry["result_uri"]))))
                result.setdefault("stage", stage)
                result["label"] = entry.get("label") or result.get("label") or ""
                out.append(result)
    return out


def _load_script(store: ObjectStore, uri: str) -> Script:
    from pipeline.core.script import Script
    from pipeline.core.storage import key_of

    return Script.from_json(store.get_bytes(key_of(store, uri)))


def target_languages(store: ObjectStore, manifest: dict[str, Any]) -> list[str]:
    """The job's target languages: the labels of its per-language stages."""
    langs = [str(r.get("language") or r["label"]) for r in _results(store, manifest, TARGET_STAGES)]
    return list(dict.fromkeys(lang for lang in langs if lang))


class JobScript:
    """One view of a job's Script: the transcript (language None) or one target language's lines."""

    def __init__(self, manifest: dict[str, Any], script: Script, uri: str, language: str | None, code: str) -> None:
        self.manifest = manifest
        self.script = script
        self.uri = uri
        self.language = language  # None: the source text (transcript)
        self.code = code  # the language's code, the source's too

    @property
    def kind(self) -> str:
        return "transcript" if self.language is None else "translation"

    def lines(self) -> int:
        if self.language is None:
            return sum(1 for s in self.script.segments if s.text.strip())
        lang = self.language
        return sum(1 for s in self.script.segments if lang in s.translations and s.translations[lang].text.strip())


def open_view(store: ObjectStore, ref: str, lang: str) -> tuple[dict[str, Any], JobScript]:
    """The job's manifest and the script of `lang` in it; or, where `ref` is a Script's URI (what a review
    gate shows: the job has no id until it is published), that Script (and an empty manifest)."""
    if "://" not in ref:
        manifest = find_job(store, ref)
        return manifest, job_script(store, manifest, lang)
    from pipeline.core.storage import key_of

    try:
        script = _load_script(store, ref)
    except Exception as e:  # a URI outside the store, or not a Script
        raise InputError(
            f"{ref} is not a Script of the store {store.url} ({type(e).__name__})",
            "give a job id, or the script_uri a review gate shows",
        ) from None
    code = lang.strip().lower()
    if code in (SOURCE, script.source.language or SOURCE):
        view = JobScript({}, script, store.uri(key_of(store, ref)), None, script.source.language or SOURCE)
    else:
        view = JobScript({}, script, ref, code, code)
    return {"input": {"filename": script.source.filename, "sha256": script.source.sha256}}, view


def job_rules(manifest: dict[str, Any]) -> Any:
    """The subtitle rules the job's cues were made with (its request's profile; else the settings')."""
    from pipeline.text.subtitles import profile

    asked = (manifest.get("request") or {}).get("subtitle_profile")
    return profile(str(asked or get_settings().subtitle_profile))


def job_script(store: ObjectStore, manifest: dict[str, Any], lang: str) -> JobScript:
    """The script of `lang` in the job: "source" (or the source's code) for the transcript, else a target."""
    lang = lang.strip().lower()
    jid = manifest.get("job_id", "?")
    sources = _results(store, manifest, SOURCE_STAGES)
    source_code = str(sources[0].get("language") or "") if sources else ""
    if lang in (SOURCE, source_code):
        # an edited transcript: the revise stage's result for the source language is the job's transcript
        revised = [r for r in _results(store, manifest, ("revise",)) if source_code and r["label"] == source_code]
        sources = revised + sources
        if not sources:
            raise InputError(f"job {jid} has no transcript (no cast stage in its manifest)")
        uri = str(sources[0]["script_uri"])
        script = _load_script(store, uri)
        return JobScript(manifest, script, uri, None, source_code or script.source.language or SOURCE)
    for result in _results(store, manifest, TARGET_STAGES):
        if lang in (result["label"], result.get("language")) and result.get("script_uri"):
            uri = str(result["script_uri"])
            return JobScript(manifest, _load_script(store, uri), uri, lang, lang)
    known = [SOURCE + (f" ({source_code})" if source_code else ""), *target_languages(store, manifest)]
    raise InputError(f"job {jid} has no {lang!r} script", f"its languages: {', '.join(known)}")


def _default_out(manifest: dict[str, Any], code: str, fmt: str) -> Path:
    name = str((manifest.get("input") or {}).get("filename") or manifest.get("job_id") or "script")
    return Path.cwd() / f"{Path(name).stem}.{code}.{EXTENSIONS[fmt]}"


def _check_format(fmt: str) -> str:
    fmt = fmt.strip().lower()
    if fmt not in EXTENSIONS:
        raise InputError(f"--format {fmt!r} is not one of {', '.join(EXTENSIONS)}", "e.g. --format srt")
    return fmt


def _short(text: str, width: int = 60) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


# --- commands --------------------------------------------------------------------------------------


@script_app.command("export")
@errors
def script_export(
    job: Annotated[str, typer.Argument(help="the job's id (or a unique prefix), or a Script's URI (a review gate's)")],
    lang: Annotated[str, typer.Option("--lang", help="'source' (the transcript) or a target language, e.g. es")],
    fmt: Annotated[str, typer.Option("--format", help="srt | vtt | dapt | json")] = "srt",
    out: Annotated[Path | None, typer.Option("--out", help="the file; default <input stem>.<lang>.<ext> here")] = None,
) -> None:
    """Write a job's transcript or one language's translation as a file a reviewer can edit."""
    from pipeline.text.script_io import export_script

    fmt = _check_format(fmt)
    store = _store()
    manifest, view = open_view(store, job, lang)
    dest = out or _default_out(manifest, view.code, fmt)
    dest.parent.mkdir(parents=True, exist_ok=True)
    rules = job_rules(manifest)
    script, name = view.script, (manifest.get("input") or {}).get("filename")
    if name and name != script.source.filename:  # a reused (content-keyed) transcript carries its first job's name
        script = script.model_copy(update={"source": script.source.model_copy(update={"filename": str(name)})})
    written = export_script(script, view.language, fmt, dest, rules)
    console.print(
        f"wrote {escape(str(written))}: {view.lines()} line(s) of the {view.kind} ({escape(view.code)}, {fmt}), "
        f"script revision {view.script.revision}"
    )


@script_app.command("check")
@errors
def script_check(
    job: Annotated[str, typer.Argument(help="the job's id (or a unique prefix of it)")],
    file: Annotated[Path, typer.Argument(help="the edited file (srt, vtt, dapt/ttml or json)")],
    lang: Annotated[str, typer.Option("--lang", help="'source' (the transcript) or a target language, e.g. es")],
) -> None:
    """Show what an edited file changes in a job's script and which lines it makes stale; applies nothing."""
    from pipeline.core.revision import apply_edit, stale_lines
    from pipeline.text.script_io import read_edit

    if not file.is_file():
        raise InputError(f"{file} is not a file", "give the edited script file")
    store = _store()
    manifest, view = open_view(store, job, lang)
    edit = read_edit(view.script, view.language, file, job_rules(manifest))
    revised, changes = apply_edit(view.script, edit)
    languages = list(dict.fromkeys([*target_languages(store, manifest), *view.script.languages]))
    if view.language is not None and view.language not in languages:
        languages.append(view.language)
    stale = stale_lines(revised, changes, languages)
    if not changes:
        console.print(f"{escape(file.name)}: no changes to the {view.kind} ({escape(view.code)})")
        return
    table = Table(title=f"{escape(file.name)}: {len(changes)} change(s) to the {view.kind} ({escape(view.code)})")
    for col in ("id", "field", "language", "before", "after"):
        table.add_column(col, overflow="fold")
    for c in changes:
        table.add_row(
            escape(c.id), c.field, escape(c.language or ""), escape(_short(c.before)), escape(_short(c.after))
        )
    console.print(table)
    n_stale = sum(len(lines) for lines in stale.values())
    if not n_stale:
        console.print("no other lines made stale")
        return
    stale_table = Table(title=f"{n_stale} line(s) made stale")
    for col in ("language", "id", "why"):
        stale_table.add_column(col, overflow="fold")
    for language, lines in sorted(stale.items()):
        for line_id, why in lines.items():
            stale_table.add_row(escape(language), escape(line_id), escape(why))
    console.print(stale_table)


def _review(review: dict[str, Any] | None) -> str:
    if not review:
        return "-"
    if review.get("timed_out"):
        return "timed out"
    who = review.get("approved_by") or review.get("who") or review.get("by")
    if who:
        return f"approved by {who}"
    return json.dumps(review, sort_keys=True, default=str)


@script_app.command("history")
@errors
def script_history(
    job: Annotated[str, typer.Argument(help="the job's id (or a unique prefix of it)")],
    lang: Annotated[str | None, typer.Option("--lang", help="only this language")] = None,
) -> None:
    """The revisions recorded for a job's input: each applied edit, who made it, what it changed."""
    from pipeline.ledger.revisions import revision_history

    store = _store()
    manifest = find_job(store, job)
    source = manifest.get("input") or {}
    sha = str(source.get("sha256") or "")
    if not sha:
        raise InputError(f"job {manifest.get('job_id')}'s manifest names no input sha256")
    rows = revision_history(get_settings(), sha, lang.strip().lower() if lang else None)
    name = escape(str(source.get("filename") or sha[:12]))
    if not rows:
        console.print(f"no script revisions recorded for {name}")
        return
    table = Table(title=f"script revisions of {name}")
    cols = ("id", "at", "editor", "language", "kind", "revision", "edit", "changes", "stale", "review")
    for col in cols:
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["at"].strftime("%Y-%m-%d %H:%M:%S"),
            escape(r["editor"]),
            escape(r["language"]),
            r["kind"],
            str(r["revision"]),
            escape(f"{r['edit_name']} ({r['edit_format']})"),
            str(len(r["changes"])),
            str(sum(len(lines) for lines in r["stale"].values())),
            escape(_review(r["review"])),
        )
    console.print(table)
