"""The transcribe stage keeps what was said and drops what Whisper invents past the end of the audio."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.base import AsrSegment, ModelInfo, Transcription, Word
from pipeline.core.config import Settings
from pipeline.core.errors import InputError
from pipeline.core.script import Script, SourceInfo
from pipeline.core.storage import open_store
from pipeline.stages import transcribe as stage
from pipeline.stages.contracts import Ingested


class FakeASR:
    info = ModelInfo("fake-asr", "1")

    def __init__(self, segments: list[AsrSegment]) -> None:
        self.segments = tuple(segments)

    def transcribe(self, audio_path: Path, language: str | None = None) -> Transcription:
        return Transcription(language="en", language_probability=0.9, segments=self.segments, duration=30.0)


def _silence_wav(seconds: float) -> bytes:
    import io

    import numpy as np
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.zeros(int(16000 * seconds), dtype=np.float32), 16000, format="WAV")
    return buf.getvalue()


def _ingested(settings: Settings) -> Ingested:
    store = open_store(settings.resolved_store_url)
    script = Script(
        source=SourceInfo(uri="file:///x.wav", sha256="a" * 64, filename="x.wav", duration=30.0, has_video=False)
    )
    return Ingested(
        source_uri="file:///x.wav",
        source_sha256="a" * 64,
        filename="x.wav",
        stem="x",
        duration=30.0,
        has_video=False,
        script_uri=store.put_bytes("t/script.json", script.to_json()),
        asr_audio_uri=store.put_bytes("t/asr.wav", _silence_wav(30.0)),
        full_audio_uri="file:///x.wav",
    )


def test_segments_past_the_end_are_dropped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(data_dir=tmp_path)
    said = AsrSegment(25.0, 27.5, " Thank you.", (Word("Thank", 25.0, 25.5), Word("you.", 25.6, 27.5)))
    invented = AsrSegment(30.0, 40.0, " Thank you.", ())
    overlong = AsrSegment(28.0, 31.0, " Bye.", (Word("Bye.", 28.0, 31.0),))
    monkeypatch.setattr(stage, "get_asr", lambda s: FakeASR([said, invented, overlong]))
    result = stage.transcribe(settings, _ingested(settings), None)
    store = open_store(settings.resolved_store_url)
    from pipeline.stages.common import load_script

    script = load_script(store, result.script_uri)
    assert [s.text for s in script.segments] == ["Thank you.", "Bye."]
    assert script.segments[-1].end == 30.0  # clamped to the end of the audio


def test_no_speech_is_an_input_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(data_dir=tmp_path)
    monkeypatch.setattr(stage, "get_asr", lambda s: FakeASR([AsrSegment(0, 1, "  ", ())]))
    with pytest.raises(InputError, match="no speech was found"):
        stage.transcribe(settings, _ingested(settings), None)


def test_the_language_check_runs_unless_switched_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """asr_language_check (off in the fast profile) decides whether the windows are heard for other languages."""
    said = AsrSegment(1.0, 2.0, " Hello.", (Word("Hello.", 1.0, 2.0),))
    monkeypatch.setattr(stage, "get_asr", lambda s: FakeASR([said]))
    calls: list[str] = []
    monkeypatch.setattr(stage, "other_languages", lambda *a: calls.append("checked") or [])
    stage.transcribe(Settings(data_dir=tmp_path / "on"), _ingested(Settings(data_dir=tmp_path / "on")), None)
    assert calls == ["checked"]
    off = Settings(data_dir=tmp_path / "off", profile="fast")
    assert off.asr_language_check is False
    stage.transcribe(off, _ingested(off), None)
    assert calls == ["checked"]
