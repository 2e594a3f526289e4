"""Revisions under review: field hashes, applying an edit, stale lines (pipeline/core/revision.py)."""

from __future__ import annotations

import pytest

from pipeline.core.errors import InputError
from pipeline.core.revision import (
    Change,
    LineEdit,
    ScriptEdit,
    apply_edit,
    field_hashes,
    script_hash,
    stale_lines,
)
from pipeline.core.script import Clip, Script, Segment, SourceInfo, Translation, WordTiming

SOURCE = SourceInfo(
    uri="file:///ep1.mp4", sha256="0" * 64, filename="ep1.mp4", duration=30.0, has_video=True, language="en"
)


def _script() -> Script:
    segs = [
        Segment(
            id="s0001",
            start=1.0,
            end=3.0,
            text="Hello there.",
            words=[WordTiming(text="Hello", start=1.0, end=1.6), WordTiming(text="there.", start=1.7, end=3.0)],
            translations={"es": Translation(text="Hola.", engine="nllb", full_text="Hola a todos.", budget_chars=8)},
            clips={"es": Clip(uri="file:///c1.wav", duration=1.5, engine="kokoro", voice="v1")},
        ),
        Segment(
            id="s0002",
            start=4.0,
            end=6.0,
            text="How are you?",
            translations={"es": Translation(text="¿Qué tal?", engine="nllb")},
        ),
        Segment(id="s0003", start=7.0, end=9.0, speaker="S2", text="Fine, thanks."),
    ]
    return Script(source=SOURCE, speakers=["S1", "S2"], segments=segs, languages=["es", "fr"])


def _edit(kind: str = "transcript", language: str = "en", *lines: LineEdit) -> ScriptEdit:
    return ScriptEdit(language=language, kind=kind, name="ep1.es.srt", sha256="1" * 64, format="srt", lines=list(lines))  # type: ignore[arg-type]


def test_field_hashes_change_only_with_their_field() -> None:
    seg = _script().segments[0]
    before = field_hashes(seg)
    assert set(before) == {"text", "timing", "speaker", "tr:es", "clip:es"}
    assert all(len(v) == 16 for v in before.values())
    moved = field_hashes(seg.model_copy(update={"end": 3.5}))
    assert {k for k in before if before[k] != moved[k]} == {"timing"}
    retranslated = seg.model_copy(deep=True)
    retranslated.translations["es"].text = "Buenas."
    assert {k for k, v in field_hashes(retranslated).items() if v != before[k]} == {"tr:es"}


def test_no_lines_is_no_change_and_same_hash() -> None:
    script = _script()
    new, changes = apply_edit(script, _edit())
    assert changes == []
    assert new.revision == script.revision + 1 and new.history[-1] == "revise:source"
    assert script_hash(new, None) == script_hash(script, None)
    assert script_hash(new, "es") == script_hash(script, "es")
    assert script_hash(script, "es") != script_hash(script, None)


def test_transcript_edit_replaces_text_and_drops_words() -> None:
    script = _script()
    new, changes = apply_edit(script, _edit("transcript", "en", LineEdit(id="s0001", text="Hello  there,  you.")))
    seg = new.segments[0]
    assert seg.text == "Hello there, you." and seg.words == []
    assert changes == [Change(id="s0001", field="text", before="Hello there.", after="Hello there, you.")]
    assert script.segments[0].words, "the input script is not changed"
    assert script_hash(new, None) != script_hash(script, None)


def test_whitespace_and_equal_values_are_no_change() -> None:
    script = _script()
    new, changes = apply_edit(
        script,
        _edit(
            "transcript", "en", LineEdit(id="s0001", text=" Hello\nthere. "), LineEdit(id="s0002", start=4.0, end=6.0)
        ),
    )
    assert changes == []
    assert new.segments[0].words == script.segments[0].words


def test_translation_edit_marks_engine_and_flags() -> None:
    new, changes = apply_edit(_script(), _edit("translation", "es", LineEdit(id="s0001", text="¡Hola, amigos!")))
    tr = new.segments[0].translations["es"]
    assert (tr.text, tr.engine, tr.full_text, tr.budget_chars) == ("¡Hola, amigos!", "edit", None, None)
    assert "edited" in tr.flags
    assert changes == [Change(id="s0001", field="translation", language="es", before="Hola.", after="¡Hola, amigos!")]
    assert new.history[-1] == "revise:es"


def test_translation_for_a_line_without_one_and_an_emptied_one() -> None:
    new, changes = apply_edit(
        _script(), _edit("translation", "es", LineEdit(id="s0003", text="Bien."), LineEdit(id="s0002", text=""))
    )
    assert new.segments[2].translations["es"].engine == "edit"
    assert new.segments[1].translations["es"].text == ""
    assert [c.id for c in changes] == ["s0003", "s0002"]


def test_timing_edit_applied_and_reported() -> None:
    new, changes = apply_edit(_script(), _edit("translation", "es", LineEdit(id="s0002", start=3.5, end=6.5)))
    assert (new.segments[1].start, new.segments[1].end) == (3.5, 6.5)
    assert changes == [Change(id="s0002", field="timing", before="4.000-6.000", after="3.500-6.500")]


@pytest.mark.parametrize(
    ("start", "end", "words"),
    [
        (5.0, 4.5, "not within the programme"),
        (-1.0, 5.0, "not within the programme"),
        (4.0, 31.0, "not within the programme"),
        (2.5, 6.0, "overlap the previous line s0001"),
        (4.0, 7.5, "overlap the next line s0003"),
    ],
)
def test_bad_timing_is_refused(start: float, end: float, words: str) -> None:
    with pytest.raises(InputError) as err:
        apply_edit(_script(), _edit("transcript", "en", LineEdit(id="s0002", start=start, end=end)))
    assert "ep1.es.srt" in err.value.message and "s0002" in err.value.message and words in err.value.message
    assert f"{start:.3f}-{end:.3f}" in err.value.message
    assert err.value.hint


def test_neighbours_moved_together_are_checked_after_both() -> None:
    new, changes = apply_edit(
        _script(), _edit("transcript", "en", LineEdit(id="s0002", end=7.5), LineEdit(id="s0003", start=7.6))
    )
    assert [c.field for c in changes] == ["timing", "timing"]


def test_unknown_line_and_emptied_transcript_refused() -> None:
    with pytest.raises(InputError, match=r"ep1.es.srt: line 's0099' is not in the script"):
        apply_edit(_script(), _edit("transcript", "en", LineEdit(id="s0099", text="x")))
    with pytest.raises(InputError, match="s0001: the source text is empty"):
        apply_edit(_script(), _edit("transcript", "en", LineEdit(id="s0001", text="  ")))


def test_stale_lines() -> None:
    script = _script()
    changes = [
        Change(id="s0001", field="text", before="a", after="b"),
        Change(id="s0002", field="translation", language="es", before="a", after="b"),
        Change(id="s0003", field="timing", before="7.000-9.000", after="7.000-9.500"),
    ]
    stale = stale_lines(script, changes, ["es", "fr"])
    assert stale == {
        "es": {"s0001": "source edited", "s0002": "translation edited", "s0003": "re-timed"},
        "fr": {"s0001": "source edited", "s0002": "neighbour s0003 re-timed", "s0003": "re-timed"},
    }
    assert stale_lines(script, [], ["es"]) == {"es": {}}


def test_stale_neighbours_of_a_retimed_middle_line() -> None:
    stale = stale_lines(_script(), [Change(id="s0002", field="timing", before="", after="")], ["fr"])
    assert stale == {
        "fr": {"s0001": "neighbour s0002 re-timed", "s0002": "re-timed", "s0003": "neighbour s0002 re-timed"}
    }
