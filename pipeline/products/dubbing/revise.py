"""revise: a reviewer's edited script applied to the job's Script (the transcript after cast, or one
language's translation after translate), recorded as a revision; the later stages then re-render only the
lines it made stale.

An edit is read against the Script it was exported from (`pipeline.text.script_io.read_edit`: cues mapped
back to segment ids), applied as a new revision (`pipeline.core.revision.apply_edit`), and recorded in the
project database with who made it and the hashes before and after (`pipeline.ledger.revisions`). The stage
is content-addressed on the Script and the edit's bytes: the same edit applied again is the recorded result.
An edit that changes nothing (an export imported back as it was) leaves the job exactly as it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pipeline.core.config import Settings
from pipeline.core.errors import InputError
from pipeline.core.inputs import resolve_input
from pipeline.core.revision import apply_edit, script_hash, stale_lines
from pipeline.core.script import Script
from pipeline.core.stagerun import StageRun, open_settings_store, run_stage
from pipeline.core.storage import ObjectStore
from pipeline.products.dubbing.contracts import Translated
from pipeline.stages.common import load_script, save_script
from pipeline.stages.contracts import Transcribed

R = TypeVar("R", Transcribed, Translated)

ALL = "*"  # a transcript edit's stale lines hold in every dub language


def edit_for(scripts: Mapping[str, str], language: str, source: bool) -> str:
    """The edited script given for `language` ("source" also names the transcript's)."""
    where = scripts.get(language) or (scripts.get("source") if source else None) or ""
    return where.strip()


def locate_edit(settings: Settings, where: str, language: str) -> Path:
    scratch = settings.data_dir / "work" / "inputs"
    scratch.mkdir(parents=True, exist_ok=True)
    path = resolve_input(where, scratch, settings)
    if not path.is_file():
        raise InputError(
            f"edited script {where} (for {language}) does not exist",
            "give the path of an SRT, WebVTT, DAPT or JSON file made by `dubline script export`",
        )
    return path


def revise_transcript(
    settings: Settings,
    transcribed: Transcribed,
    scripts: Mapping[str, str],
    editor: str = "",
    review: Mapping[str, Any] | None = None,
    subtitle_profile: str = "broadcast",
) -> Transcribed:
    """Apply `scripts[<source language>]` (a path or store URI of an edited SRT, WebVTT, DAPT or JSON
    transcript), if there is one, to the transcript. `review` is what the review gate recorded (who approved,
    when, whether it timed out), kept in the revision history. Returns `transcribed` itself (with the review
    noted) when there is nothing to apply."""
    where = edit_for(scripts, transcribed.language, source=True)
    return _revise(settings, transcribed, None, transcribed.language, where, editor, review, subtitle_profile)


def revise_translation(
    settings: Settings,
    translated: Translated,
    scripts: Mapping[str, str],
    editor: str = "",
    review: Mapping[str, Any] | None = None,
    subtitle_profile: str = "broadcast",
) -> Translated:
    """Apply `scripts[<translated.language>]` (an edited translation), if there is one."""
    where = edit_for(scripts, translated.language, source=False)
    return _revise(
        settings, translated, translated.language, translated.language, where, editor, review, subtitle_profile
    )


def _revise(
    settings: Settings,
    given: R,
    language: str | None,
    label: str,
    where: str,
    editor: str,
    review: Mapping[str, Any] | None,
    subtitle_profile: str,
) -> R:
    """Apply the edit at `where` (nothing: `given`, with the review noted). The file is read with the subtitle
    rules the job's cues were made with (`subtitle_profile`), as it was exported."""
    from pipeline.text.script_io import read_edit
    from pipeline.text.subtitles import profile

    prior: dict[str, Any] = dict(given.revision or {})
    if review:
        prior["review"] = dict(review)
    if not where:
        return given.model_copy(update={"revision": prior or None})
    path = locate_edit(settings, where, label)
    store = open_settings_store(settings)
    script = load_script(store, given.script_uri)
    view = as_spoken(store, script, language) if language else script
    edit = read_edit(view, language, path, profile(subtitle_profile))
    if not edit.lines:  # imported back as exported: nothing changes, nothing is re-rendered
        return given.model_copy(
            update={"revision": {**prior, "edits": [*prior.get("edits", []), _unchanged(edit.name, edit.sha256)]}}
        )
    kind = "translation" if language else "transcript"
    who = editor.strip() or _actor()
    material = {"script": given.script_uri, "given": given.key, "edit": edit.sha256, "kind": kind, "lang": label}

    def work(run: StageRun) -> R:
        from pipeline.ledger.revisions import record_revision

        new, changes = apply_edit(script, edit)
        stale = stale_lines(new, changes, [language or ALL])[language or ALL]
        uri = save_script(run, new)
        before, after = script_hash(script, language), script_hash(new, language)
        row = record_revision(
            settings,
            input_sha256=script.source.sha256,
            language=label,
            kind=kind,
            revision=new.revision,
            editor=who,
            edit_name=edit.name,
            edit_sha256=edit.sha256,
            edit_format=edit.format,
            before_sha256=before,
            after_sha256=after,
            changes=[c.model_dump() for c in changes],
            stale={label: stale},
            script_uri=uri,
            review=dict(review) if review else None,
        )
        record = {
            "id": row,
            "kind": kind,
            "language": label,
            "revision": new.revision,
            "editor": who,
            "edit": edit.name,
            "edit_sha256": edit.sha256,
            "format": edit.format,
            "before_sha256": before,
            "after_sha256": after,
            "changes": [c.model_dump() for c in changes],
        }
        revision = {
            **prior,
            "stale": {**prior.get("stale", {}), **stale},
            "edits": [*prior.get("edits", []), record],
        }
        if language is None:
            revision["previous"] = given.to_xcom()
        return given.model_copy(update={"script_uri": uri, "revision": revision})

    done = run_stage(settings, "revise", material, work, type(given), label=label)
    if review:  # who approved this run is this run's, not the recorded result's
        done = done.model_copy(update={"revision": {**(done.revision or {}), "review": dict(review)}})
    return done


def as_spoken(store: ObjectStore, script: Script, language: str) -> Script:
    """The Script with each translation as a dub spoke it: the exported file shows the lines shortened to fit
    as spoken, and keeping them is no edit."""
    from pipeline.products.dubbing.lines import get_spoken

    view = script.model_copy(deep=True)
    for seg in view.segments:
        tr = seg.translations.get(language)
        spoken = get_spoken(store, script.source.sha256, language, seg.id, tr.text) if tr else None
        if tr is not None and spoken:
            seg.translations[language] = tr.model_copy(update={"text": spoken, "full_text": tr.text})
    return view


def _unchanged(name: str, sha256: str) -> dict[str, Any]:
    return {"edit": name, "edit_sha256": sha256, "changes": []}


def _actor() -> str:
    from pipeline.ledger.audit import actor

    return actor()


def stale_of(revision: Mapping[str, Any] | None) -> dict[str, str]:
    """The lines an applied edit made stale: {segment id: why}."""
    return dict((revision or {}).get("stale") or {})


def previous_transcript(transcribed: Transcribed) -> Transcribed | None:
    """The transcript an edit was applied to (its translations can be kept for the lines not edited)."""
    prev = (transcribed.revision or {}).get("previous")
    return Transcribed.from_xcom(prev) if isinstance(prev, Mapping) else None


def kept_translations(previous: Script, language: str, stale: Mapping[str, str]) -> dict[str, Any]:
    """The translations of the previous revision that an edit left as they were (segment id -> Translation)."""
    return {
        s.id: s.translations[language] for s in previous.segments if s.id not in stale and language in s.translations
    }
