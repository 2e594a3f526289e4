"""The revise stage: a reviewer's edited transcript or translation applied as a new revision, recorded in the
ledger; a transcript edit keeps the translations of the lines it did not touch; an export imported back
unchanged changes nothing; a line the dub shortened to fit reads as unchanged when its spoken text is kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.core.config import Settings
from pipeline.core.errors import InputError
from pipeline.core.storage import open_store
from pipeline.products.dubbing import lines, revise
from pipeline.products.dubbing import translate as stage
from pipeline.stages.common import load_script
from pipeline.text.script_io import export_script
from tests.pipeline.products.dubbing import test_translate_stage as base
from tests.pipeline.products.dubbing.test_translate_stage import SPANISH, FakeLlama, _transcribed

llm = base.llm  # the translate stage's fixture: a scripted LLM with Apertium as its fallback

EDITED = "I have 3 tickets for the concert."


def _edit(path: Path, old: str, new: str) -> Path:
    text = path.read_text(encoding="utf-8")
    assert old in text, text
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


@pytest.mark.parametrize("fmt", ["srt", "vtt", "dapt", "json"])
def test_an_export_imported_back_changes_nothing(llm: tuple[FakeLlama, Settings], tmp_path: Path, fmt: str) -> None:
    _, settings = llm
    transcribed = _transcribed(settings)
    store = open_store(settings.resolved_store_url)
    path = export_script(load_script(store, transcribed.script_uri), None, fmt, tmp_path / f"t.{fmt}")
    same = revise.revise_transcript(settings, transcribed, {"en": str(path)})
    assert same.script_uri == transcribed.script_uri and same.key == transcribed.key
    assert same.revision is not None and same.revision["edits"][0]["changes"] == []


def test_a_transcript_edit_keeps_the_other_lines_translations(llm: tuple[FakeLlama, Settings], tmp_path: Path) -> None:
    from pipeline.ledger.revisions import revision_history

    fake, settings = llm
    transcribed = _transcribed(settings)
    first = stage.translate(settings, transcribed, "es")
    store = open_store(settings.resolved_store_url)
    path = export_script(load_script(store, transcribed.script_uri), None, "srt", tmp_path / "t.srt")
    _edit(path, "tickets for the show", "tickets for the concert")
    revised = revise.revise_transcript(settings, transcribed, {"en": str(path)}, editor="ana")
    assert revised.script_uri != transcribed.script_uri
    assert revised.revision is not None and revised.revision["stale"] == {"s1": "source edited"}
    [edit] = revised.revision["edits"]
    assert edit["editor"] == "ana" and edit["kind"] == "transcript" and [c["id"] for c in edit["changes"]] == ["s1"]
    again = revise.revise_transcript(settings, transcribed, {"en": str(path)}, editor="ana")
    assert again.script_uri == revised.script_uri  # the same edit again: the recorded result
    history = revision_history(settings, "a" * 64)
    assert len(history) == 1 and history[0]["editor"] == "ana"

    SPANISH[EDITED] = "Tengo 3 entradas para el concierto."
    try:
        calls = len(fake.prompts)
        second = stage.translate(settings, revised, "es")
    finally:
        SPANISH.pop(EDITED)
    before = load_script(store, first.script_uri).segments
    after = load_script(store, second.script_uri).segments
    assert after[0].translations["es"] == before[0].translations["es"]
    assert after[2].translations["es"] == before[2].translations["es"]
    assert after[1].text == EDITED
    assert after[1].translations["es"].text != before[1].translations["es"].text
    asked = [p for p in fake.prompts[calls:] if "Line to translate" in p]
    assert asked and all(p.endswith(EDITED) for p in asked)
    assert second.lines_by_engine.get("kept") == 2
    assert second.revision is not None and second.revision["stale"] == {"s1": "source edited"}


def test_a_translation_edit_and_the_spoken_view(llm: tuple[FakeLlama, Settings], tmp_path: Path) -> None:
    _, settings = llm
    stage.translate(settings, _transcribed(settings), "es")
    translated = stage.translate(settings, _transcribed(settings), "es")
    assert translated.cached  # reused: the revise stage's own result must not say so
    store = open_store(settings.resolved_store_url)
    script = load_script(store, translated.script_uri)
    # the dub spoke line s2 shorter than it was written: the export shows (and the reviewer keeps) the spoken text
    written = script.segments[2].translations["es"].text
    lines.put_spoken(store, script.source.sha256, "es", "s2", written, "Okafor terminó.")
    view = revise.as_spoken(store, script, "es")
    path = export_script(view, "es", "vtt", tmp_path / "es.vtt")
    _edit(path, "Buenos días, Anna.", "Buenos días, Ana.")
    done = revise.revise_translation(settings, translated, {"es": str(path)}, editor="luis")
    assert done.revision is not None and done.revision["stale"] == {"s0": "translation edited"}
    assert done.stage == "revise" and not done.cached
    segs = load_script(store, done.script_uri).segments
    assert segs[0].translations["es"].text == "Buenos días, Ana." and segs[0].translations["es"].engine == "edit"
    assert segs[2].translations["es"].text == written  # kept as written: its record speaks it as before


def test_a_missing_edit_file_is_named(llm: tuple[FakeLlama, Settings], tmp_path: Path) -> None:
    _, settings = llm
    with pytest.raises(InputError, match=r"edited script .*absent.srt \(for en\) does not exist"):
        revise.revise_transcript(settings, _transcribed(settings), {"en": str(tmp_path / "absent.srt")})


def test_no_edit_passes_the_review_record_on(llm: tuple[FakeLlama, Settings]) -> None:
    _, settings = llm
    transcribed = _transcribed(settings)
    approved = {"approved_by": "ana", "timed_out": False}
    out = revise.revise_transcript(settings, transcribed, {}, review=approved)
    assert out.script_uri == transcribed.script_uri and out.revision == {"review": approved}
    assert revise.revise_transcript(settings, transcribed, {}) == transcribed
