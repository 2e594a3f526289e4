"""The Script data model (pipeline/core/script.py)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pipeline.core.script import Clip, FitReport, Script, Segment, SourceInfo, Translation, WordTiming

SOURCE = SourceInfo(
    uri="file:///in.mp4",
    sha256="ab" * 32,
    filename="in.mp4",
    duration=12.5,
    has_video=True,
    language="en",
    language_probability=0.98,
)


def _script() -> Script:
    seg = Segment(
        id="seg-0001",
        start=0.5,
        end=2.0,
        speaker="S2",
        text="Hello world.",
        words=[
            WordTiming(text="Hello", start=0.5, end=0.9),
            WordTiming(text="world.", start=1.0, end=2.0, probability=0.7),
        ],
        translations={"es": Translation(text="Hola mundo.", engine="apertium")},
        clips={
            "es": Clip(
                uri="file:///c.wav",
                duration=1.4,
                engine="pico",
                voice="es-ES",
                fit=FitReport(start=0.5, slot_end=2.9, natural_duration=1.4, final_duration=1.4, steps=["fits"]),
            )
        },
    )
    return Script(
        source=SOURCE,
        speakers=["S1", "S2"],
        segments=[seg, Segment(id="seg-0002", start=3.0, end=3.0, text="Hm.")],
        languages=["es"],
    )


def test_segment_end_before_start_rejected():
    with pytest.raises(ValidationError, match="end 1.0 before start 2.0"):
        Segment(id="x", start=2.0, end=1.0, text="a")
    with pytest.raises(ValidationError):
        Segment(id="x", start=-1.0, end=1.0, text="a")
    assert Segment(id="x", start=1.0, end=1.0, text="a").end == 1.0  # zero length is allowed


def test_content_hash_follows_what_synthesis_depends_on():
    seg = _script().segments[0]
    base_es = seg.content_hash("es")
    assert len(base_es) == 16
    assert seg.content_hash("es") == base_es  # deterministic

    changed = seg.model_copy(deep=True)
    changed.translations["es"] = Translation(text="Hola, mundo.", engine="apertium")
    assert changed.content_hash("es") != base_es
    assert changed.content_hash() == seg.content_hash()  # the source line alone did not change
    assert changed.content_hash("fr") == seg.content_hash("fr")

    moved = seg.model_copy(update={"start": 0.6})
    assert moved.content_hash("es") != base_es
    assert seg.model_copy(update={"text": "Hello, world."}).content_hash() != seg.content_hash()
    # the engine that produced the translation, or the speaker, do not change what is said
    other_engine = seg.model_copy(deep=True)
    other_engine.translations["es"] = Translation(text="Hola mundo.", engine="llm")
    assert other_engine.content_hash("es") == base_es


def test_json_round_trip():
    script = _script()
    data = script.to_json()
    assert isinstance(data, bytes)
    back = Script.from_json(data)
    assert back == script
    assert back.segments[0].clips["es"].fit.steps == ["fits"]
    assert back.segments[0].words[1].probability == 0.7


def test_from_json_validates():
    bad = _script().to_json().replace(b'"end": 2.0', b'"end": 0.1')
    with pytest.raises(ValidationError, match="before start"):
        Script.from_json(bad)


def test_revised_is_a_new_revision():
    script = _script()
    r1 = script.revised("transcribe")
    r2 = r1.revised("translate")
    assert (script.revision, r1.revision, r2.revision) == (0, 1, 2)
    assert script.history == []
    assert r1.history == ["transcribe"]
    assert r2.history == ["transcribe", "translate"]
    r2.segments[0].translations["es"] = Translation(text="cambiado", engine="x")
    r2.segments.append(Segment(id="new", start=5, end=6, text="new"))
    assert script.segments[0].translations["es"].text == "Hola mundo."  # deep copy
    assert len(script.segments) == len(r1.segments) == 2


def test_speech_spans():
    assert _script().speech_spans() == [(0.5, 2.0), (3.0, 3.0)]
