"""Consent before voice, for audio description: a person's cloned voice describes only under a consent for the
use `audio_description` in the descriptions' language; checked before every line, so a revocation in the middle
of a run stops the lines not yet spoken; a stock describer needs none."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from pipeline.core import progress
from pipeline.core.config import Settings
from pipeline.core.errors import ConsentError
from pipeline.core.stagerun import open_settings_store
from pipeline.voice.consent import revoke_consent

TODAY = date(2026, 6, 15)
SCRIPT = "start,text\n2.0,A lecturer walks in.\n8.0,She writes a date on the board.\n14.0,The students laugh.\n"


@pytest.fixture
def person_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The English voice (eSpeak NG, fast) stands for person joe's voice; no QA (the gate is what is tested)."""
    monkeypatch.setenv("DUBLINE_PERSON_VOICES", '{"en": "joe"}')
    monkeypatch.setenv("DUBLINE_TTS_PREFERENCE", '{"en": ["espeak"], "*": ["espeak"]}')
    monkeypatch.setenv("DUBLINE_QA", "false")
    from pipeline.core.config import reset_settings

    reset_settings()
    return settings.model_copy(
        update={"person_voices": {"en": "joe"}, "tts_preference": {"en": ["espeak"], "*": ["espeak"]}, "qa": False}
    )


def _inputs(settings: Settings, tmp_path: Path, voice: str = "person:joe") -> tuple[Any, ...]:
    """A request and the stage results voice_descriptions takes: a 20 s programme whose only dialogue is its
    first second (the rest is a gap), and a CSV script of three descriptions."""
    from pipeline.core.storage import put_json
    from pipeline.products.description.contracts import DescribeRequest, DialogueMapped
    from pipeline.products.description.read import read_description_script
    from pipeline.stages.contracts import Ingested, Transcribed

    script = tmp_path / "prog.csv"
    script.write_text(SCRIPT)
    request = DescribeRequest(video="prog.mp4", script=str(script), voice=voice, output=str(tmp_path / "out"))
    ingested = Ingested(
        source_uri="file:///prog.mp4", source_sha256="0" * 64, filename="prog.mp4", stem="prog", duration=20.0,
        has_video=True, asr_audio_uri="", full_audio_uri="", script_uri="", key="ingested",
    )  # fmt: skip
    read = read_description_script(settings, request, ingested)
    store = open_settings_store(settings)
    doc = {"programme_end": 20.0, "spans": [[0.0, 1.0]], "gaps": [[1.0, 20.0]]}
    mapped = DialogueMapped(
        map_uri=put_json(store, "tests/dialogue.json", doc), spans=1, speech_s=1.0, gap_s=19.0, gaps=1, guard_s=0.25,
        key="mapped",
    )  # fmt: skip
    transcribed = Transcribed(
        script_uri="", language="en", language_probability=1.0, segments=0, words=0, model={}, key="transcribed"
    )
    return request, ingested, read, transcribed, mapped


def _clips(settings: Settings) -> list[str]:
    return [k for k in open_settings_store(settings).list("clips") if k.endswith(".wav")]


def test_consent_for_another_use_is_refused_before_a_word(
    person_settings: Settings, grant: Any, tmp_path: Path
) -> None:
    from pipeline.products.description.voicing import voice_descriptions

    grant(person_settings, uses=("dubbing", "audiobook"))
    with pytest.raises(ConsentError) as err:
        voice_descriptions(person_settings, *_inputs(person_settings, tmp_path), today=TODAY.isoformat())
    assert "not audio_description" in err.value.one_line() and err.value.exit_code == 6
    assert _clips(person_settings) == []


def test_consent_for_another_language_is_refused(person_settings: Settings, grant: Any, tmp_path: Path) -> None:
    from pipeline.products.description.voicing import voice_descriptions

    grant(person_settings, uses=("audio_description",), languages=("es",))
    with pytest.raises(ConsentError):
        voice_descriptions(person_settings, *_inputs(person_settings, tmp_path), today=TODAY.isoformat())
    assert _clips(person_settings) == []


def test_with_consent_every_line_is_spoken_and_the_consent_recorded(
    person_settings: Settings, grant: Any, tmp_path: Path
) -> None:
    from pipeline.products.description.voicing import voice_descriptions

    cid = grant(person_settings, uses=("audio_description",))
    done = voice_descriptions(person_settings, *_inputs(person_settings, tmp_path), today=TODAY.isoformat())
    assert done.consents == [cid] and done.cues == 3 and done.voice.person == "joe"
    assert done.overruns == 0 and done.placed_within_1s == 3  # a 19 s gap: each at its own time
    assert len(_clips(person_settings)) == 3


def test_revocation_during_a_run_stops_the_remaining_lines(
    person_settings: Settings, grant: Any, tmp_path: Path
) -> None:
    from pipeline.products.description.voicing import voice_descriptions

    grant(person_settings, uses=("audio_description",))
    inputs = _inputs(person_settings, tmp_path)
    steps: list[int] = []

    def revoke_after_first_line(stage: str, event: str, info: dict[str, Any]) -> None:
        if stage.startswith("voice_descriptions") and event == "step":
            steps.append(int(info["done"]))
            if len(steps) == 1:
                revoke_consent(person_settings, "joe", "revoked while the programme ran")

    unsubscribe = progress.subscribe(revoke_after_first_line)
    try:
        with pytest.raises(ConsentError) as err:
            voice_descriptions(person_settings, *inputs, today=TODAY.isoformat())
    finally:
        unsubscribe()
    assert "was revoked" in err.value.one_line()
    assert steps == [1], "descriptions were spoken after the revocation"
    assert len(_clips(person_settings)) == 1
    assert not (tmp_path / "out").exists()


def test_a_stock_describer_needs_no_consent(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from pipeline.core.config import reset_settings
    from pipeline.products.description.voicing import voice_descriptions

    monkeypatch.setenv("DUBLINE_TTS_PREFERENCE", '{"en": ["espeak"], "*": ["espeak"]}')
    monkeypatch.setenv("DUBLINE_QA", "false")
    reset_settings()
    stock = settings.model_copy(update={"tts_preference": {"en": ["espeak"], "*": ["espeak"]}, "qa": False})
    done = voice_descriptions(stock, *_inputs(stock, tmp_path, voice=""), today=TODAY.isoformat())
    assert done.consents == [] and done.voice.person is None and done.cues == 3
