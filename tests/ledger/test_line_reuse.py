"""Synthesis re-renders only what changed: after an edit of one line, or a retake of one line, exactly that
line is spoken again; every other line is reused, past the consent gate (a reused line in a person's voice
is refused after a revocation like a new one)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from pipeline.core.config import Settings
from pipeline.core.errors import ConsentError
from pipeline.core.script import Script, Segment, SourceInfo, Translation
from pipeline.core.stagerun import open_settings_store
from pipeline.products.dubbing.contracts import Retake, Translated
from pipeline.voice.consent import revoke_consent

TODAY = date(2026, 6, 15)
LINES = ["Good morning, everyone.", "Thank you for coming today.", "Let us begin with the first topic."]


@pytest.fixture
def person_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The English voice (eSpeak NG, fast) stands for person joe's voice; no ASR check (fast)."""
    monkeypatch.setenv("DUBLINE_PERSON_VOICES", '{"en": "joe"}')
    monkeypatch.setenv("DUBLINE_TTS_PREFERENCE", '{"en": ["espeak"], "*": ["espeak"]}')
    from pipeline.core.config import reset_settings

    reset_settings()
    return settings.model_copy(
        update={"person_voices": {"en": "joe"}, "tts_preference": {"en": ["espeak"], "*": ["espeak"]}, "qa": False}
    )


def _translated(settings: Settings, texts: list[str], name: str = "a") -> Translated:
    store = open_settings_store(settings)
    segs = [
        Segment(
            id=f"s{i:04d}",
            start=2.5 * i,
            end=2.5 * i + 2.0,
            text=t,
            translations={"en": Translation(text=t, engine="x")},
        )
        for i, t in enumerate(texts)
    ]
    src = SourceInfo(uri="file:///in.wav", sha256="0" * 64, filename="in.wav", duration=8.0, has_video=False)
    uri = store.put_bytes(f"test/{name}.json", Script(source=src, segments=segs, languages=["en"]).to_json())
    return Translated(
        language="en",
        script_uri=uri,
        engine={"id": "x"},
        lines=len(texts),
        lines_by_engine={"x": len(texts)},
        fallbacks=0,
        unvalidated=0,
        cached_lines=0,
        glossary_entries=0,
    )


def _clips(settings: Settings, result: Translated | Any) -> dict[str, str]:
    from pipeline.stages.common import load_script

    script = load_script(open_settings_store(settings), result.script_uri)
    return {s.id: s.clips["en"].uri for s in script.segments if "en" in s.clips}


def test_an_edited_line_is_the_only_one_spoken_again(person_settings: Settings, grant: Any) -> None:
    from pipeline.products.dubbing.synthesize import synthesize

    grant(person_settings)
    first = synthesize(person_settings, _translated(person_settings, LINES), today=TODAY.isoformat())
    assert sorted(first.rendered) == ["s0000", "s0001", "s0002"] and first.reused == 0
    edited = [LINES[0], "Thank you all for coming.", LINES[2]]
    second = synthesize(person_settings, _translated(person_settings, edited, "b"), today=TODAY.isoformat())
    assert list(second.rendered) == ["s0001"] and second.reused == 2
    before, after = _clips(person_settings, first), _clips(person_settings, second)
    assert before["s0000"] == after["s0000"] and before["s0002"] == after["s0002"]
    assert before["s0001"] != after["s0001"]


def test_a_retake_speaks_that_line_again_with_its_settings(person_settings: Settings, grant: Any) -> None:
    from pipeline.products.dubbing.synthesize import synthesize

    grant(person_settings)
    first = synthesize(person_settings, _translated(person_settings, LINES), today=TODAY.isoformat())
    take = synthesize(
        person_settings,
        _translated(person_settings, LINES),
        today=TODAY.isoformat(),
        retakes={"s0002": Retake(rate=0.8)},
    )
    assert take.rendered == {"s0002": "retake (rate 0.8)"} and take.reused == 2
    before, after = _clips(person_settings, first), _clips(person_settings, take)
    assert before["s0002"] != after["s0002"] and before["s0000"] == after["s0000"]
    from pipeline.stages.common import load_script

    seg = load_script(open_settings_store(person_settings), take.script_uri).segments[2]
    assert seg.clips["en"].rate == pytest.approx(0.8, abs=0.01)


def test_reused_lines_pass_the_consent_gate_again(person_settings: Settings, grant: Any) -> None:
    from pipeline.products.dubbing.synthesize import synthesize

    grant(person_settings)
    synthesize(person_settings, _translated(person_settings, LINES), today=TODAY.isoformat())
    revoke_consent(person_settings, "joe", "withdrawn")
    edited = [LINES[0], LINES[1], "Let us begin."]  # a new stage run: two of its lines are recorded
    with pytest.raises(ConsentError, match="was revoked"):
        synthesize(person_settings, _translated(person_settings, edited, "c"), today=TODAY.isoformat())
