"""The consent gate on the cloned-voice path: a speaker matched to an enrolled person is spoken with their
profile only under a valid consent; a revocation in the middle of a run stops the lines not yet spoken
(SQLite and PostgreSQL). The cloning backend is an in-process fake (eSpeak NG under the person's id): what is
tested is the path from casting to synthesis, not the likeness."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from models.base import ModelInfo, Prosody, Voice
from pipeline.core import progress
from pipeline.core.config import Settings
from pipeline.core.errors import ConsentError
from pipeline.core.script import Script, Segment, SourceInfo, SpeakerInfo, Translation
from pipeline.core.stagerun import open_settings_store
from pipeline.ledger import db
from pipeline.products.dubbing.contracts import Translated
from pipeline.voice.consent import revoke_consent

TODAY = date(2026, 6, 15)
LINES = ["Good morning, everyone.", "Thank you for coming today.", "Let us begin with the first topic."]


class _FakeCloneTTS:
    name = "clone-fake"
    info = ModelInfo("clone-fake", "1")

    def __init__(self, person_id: str) -> None:
        from models.espeak import EspeakTTS

        self.person_id = person_id
        self._espeak = EspeakTTS()

    def languages(self) -> list[str]:
        return ["en"]

    def voice_for(self, language: str) -> Voice:
        return Voice(self.name, "profile:fake", language, person_id=self.person_id)

    def synthesize(self, text: str, voice: Voice, out_path: Path, prosody: Prosody = Prosody()) -> Path:
        assert voice.person_id == self.person_id
        return self._espeak.synthesize(text, Voice("espeak", "en", "en"), out_path, prosody)


class _FakeCloner:
    name = "fake"
    info = ModelInfo("fake-cloner", "1")

    def load(self, profile_dir: Path, person_id: str) -> _FakeCloneTTS:
        assert (profile_dir / "profile.json").is_file()
        tts = _FakeCloneTTS(person_id)
        tts.profile_dir = profile_dir  # type: ignore[attr-defined]
        return tts


@pytest.fixture
def cloned(settings: Settings, grant: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[Settings, int]:
    """joe consented (dubbing, en) and has an active (fake) profile; QA off (the fake speaks with eSpeak)."""
    import pipeline.voice.enroll as enroll
    from pipeline.ledger import voices

    monkeypatch.setattr(enroll, "make_cloner", lambda settings, backend: _FakeCloner())
    cid = grant(settings, languages=("en",), until=date(2026, 12, 31))
    store = open_settings_store(settings)
    doc = json.dumps({"backend": "fake", "held_out_similarity": 0.9}).encode()
    store.put_bytes("voices/joe/profile/profile.json", doc)
    with db.session(settings) as s:
        voices.add_profile(
            s, "joe", "fake", ["en"], store.uri("voices/joe/profile"), hashlib.sha256(doc).hexdigest(), {}, [], cid
        )
        s.commit()
    return settings.model_copy(update={"qa": False, "tts_preference": {"*": ["espeak"]}}), cid


def _as_translated(language: str, script_uri: str) -> Translated:
    """The translate stage's result for a Script (the figures synthesis does not read are stand-ins)."""
    return Translated(
        language=language,
        script_uri=script_uri,
        engine={"id": "x"},
        lines=len(LINES),
        lines_by_engine={"x": len(LINES)},
        fallbacks=0,
        unvalidated=0,
        cached_lines=0,
        glossary_entries=0,
    )


def _translated(settings: Settings) -> Translated:
    store = open_settings_store(settings)
    segs = [
        Segment(
            id=f"s{i}",
            start=2.5 * i,
            end=2.5 * i + 2.0,
            text=t,
            speaker="S1",
            translations={"en": Translation(text=t, engine="x")},
        )
        for i, t in enumerate(LINES)
    ]
    src = SourceInfo(uri="file:///in.wav", sha256="0" * 64, filename="in.wav", duration=8.0, has_video=False)
    info = {"S1": SpeakerInfo(id="S1", seconds=6.0, person_id="joe", confirmed=True)}
    script = Script(source=src, segments=segs, languages=["en"], speaker_info=info)
    return _as_translated("en", store.put_bytes("test/script.json", script.to_json()))


def _clips(settings: Settings) -> list[str]:
    return open_settings_store(settings).list("clips")


def test_matched_person_speaks_with_their_profile_under_consent(cloned: tuple[Settings, int]) -> None:
    from pipeline.products.dubbing.synthesize import synthesize

    settings, cid = cloned
    result = synthesize(settings, _translated(settings), today=TODAY.isoformat())
    assert result.consents == [cid]
    assert result.voices[0]["person"] == "joe" and result.voices[0]["engine"] == "clone:fake"
    assert len(_clips(settings)) == len(LINES)


def test_cloned_voice_refused_after_revocation(cloned: tuple[Settings, int]) -> None:
    from pipeline.products.dubbing.synthesize import synthesize

    settings, _ = cloned
    revoke_consent(settings, "joe", "withdrawn")
    with pytest.raises(ConsentError, match="was revoked") as err:
        synthesize(settings, _translated(settings), today=TODAY.isoformat())
    assert err.value.exit_code == 6 and "person joe" in err.value.one_line()
    assert _clips(settings) == [], "a line was spoken in joe's voice without consent"


def test_cloned_voice_refused_for_another_language(cloned: tuple[Settings, int]) -> None:
    """The profile speaks English only here; a consent for en does not cover es either: a stock voice speaks
    es, and nothing is made in joe's voice."""
    from pipeline.products.dubbing.synthesize import synthesize

    settings, _ = cloned
    tr = _translated(settings)
    store = open_settings_store(settings)
    from pipeline.stages.common import load_script

    script = load_script(store, tr.script_uri)
    for seg in script.segments:
        seg.translations = {"es": Translation(text="Hola a todos.", engine="x")}
    uri = store.put_bytes("test/script-es.json", script.to_json())
    result = synthesize(settings, _as_translated("es", uri), today=TODAY.isoformat())
    assert result.consents == [] and result.voices[0]["person"] is None
    assert any("joe" in w for w in result.casting_warnings)


def test_revocation_during_a_run_stops_the_cloned_voice(cloned: tuple[Settings, int]) -> None:
    from pipeline.ledger.consents import impact
    from pipeline.products.dubbing.synthesize import synthesize

    settings, cid = cloned
    steps: list[int] = []

    def revoke_after_first_line(stage: str, event: str, info: dict[str, Any]) -> None:
        if stage.startswith("synthesize") and event == "step":
            steps.append(int(info["done"]))
            if len(steps) == 1:
                revoke_consent(settings, "joe", "revoked while the job ran")

    unsubscribe = progress.subscribe(revoke_after_first_line)
    try:
        with pytest.raises(ConsentError, match="was revoked"):
            synthesize(settings, _translated(settings), today=TODAY.isoformat())
    finally:
        unsubscribe()
    assert steps == [1], "lines were spoken after the revocation"
    assert len(_clips(settings)) == 1
    with db.session(settings) as s:
        made = impact(s, "joe")
    assert len(made) == 1 and made[0][1] == [cid] and made[0][0].flag == "consent_revoked"


def test_a_cloned_voices_lines_are_judged_by_campp_too(cloned: tuple[Settings, int]) -> None:
    """With QA on, each line in a person's voice gets the second judge's (CAM++) cosine to the person's CAM++
    reference from their profile, and the QA summary its mean."""
    import io

    import numpy as np

    from models import registry
    from pipeline.products.dubbing.synthesize import synthesize
    from pipeline.stages.common import load_script

    pytest.importorskip("kaldi_native_fbank")
    try:
        registry.require("whisper-base-ct2")
    except registry.WeightsError as e:
        pytest.skip(f"weights not installed: {e}")
    settings, _ = cloned
    store = open_settings_store(settings)
    buf = io.BytesIO()
    np.save(buf, np.random.default_rng(0).standard_normal(192))
    store.put_bytes("voices/joe/profile/reference_embedding_campp.npy", buf.getvalue())
    settings = settings.model_copy(update={"qa": True, "qa_retries": 0})
    result = synthesize(settings, _translated(settings), today=TODAY.isoformat())
    script = load_script(store, result.script_uri)
    sims = [seg.clips["en"].qa.similarity_campp for seg in script.segments]  # type: ignore[union-attr]
    assert all(s is not None and -1 <= s <= 1 for s in sims), sims
    assert result.qa and result.qa["mean_similarity_campp"] == pytest.approx(np.mean(sims), abs=1e-3)
