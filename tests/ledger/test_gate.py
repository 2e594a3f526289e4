"""The consent gate in the synthesis stage: every way of reaching synthesis with a person's voice without a
valid consent is refused before a line is spoken, naming what is missing (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from models.base import Voice
from pipeline.core import progress
from pipeline.core.config import Settings
from pipeline.core.errors import ConsentError
from pipeline.core.script import Script, Segment, SourceInfo, Translation
from pipeline.core.stagerun import open_settings_store
from pipeline.ledger import db
from pipeline.products.dubbing.contracts import Translated
from pipeline.voice.consent import require_consent, revoke_consent

TODAY = date(2026, 6, 15)
LINES = ["Good morning, everyone.", "Thank you for coming today.", "Let us begin with the first topic."]

# scenario -> (how the ledger is set up, the use asked, what the refusal must say)
SCENARIOS: dict[str, tuple[Callable[..., Any], str, str]] = {
    "person unknown": (lambda g, s: None, "dubbing", "not in the ledger"),
    "another person's consent": (lambda g, s: g(s, person="ann"), "dubbing", "not in the ledger"),
    "requested, never granted": (lambda g, s: g(s, status="requested"), "dubbing", "never granted"),
    "revoked": (lambda g, s: g(s, status="revoked"), "dubbing", "was revoked"),
    "expired (end date passed)": (lambda g, s: g(s, until=date(2026, 6, 14)), "dubbing", "expired on 2026-06-14"),
    "expired (status)": (lambda g, s: g(s, until=date(2026, 1, 31), status="expired"), "dubbing", "expired"),
    "not yet valid": (lambda g, s: g(s, valid_from=date(2026, 7, 1)), "dubbing", "valid only from 2026-07-01"),
    "other use": (lambda g, s: g(s, uses=("audiobook",)), "dubbing", "covers audiobook, not dubbing"),
    "other use asked": (lambda g, s: g(s), "audio_description", "covers dubbing, not audio_description"),
    "other language": (lambda g, s: g(s, languages=("es", "fr")), "dubbing", "covers es, fr, not en"),
    "other project": (lambda g, s: g(s, projects=["alpha"]), "dubbing", "covers the projects alpha"),
}


@pytest.fixture
def person_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The English voice (eSpeak NG, fast) stands for person joe's voice."""
    monkeypatch.setenv("DUBLINE_PERSON_VOICES", '{"en": "joe"}')
    monkeypatch.setenv("DUBLINE_TTS_PREFERENCE", '{"en": ["espeak"], "*": ["espeak"]}')
    from pipeline.core.config import reset_settings

    reset_settings()
    return settings.model_copy(
        update={"person_voices": {"en": "joe"}, "tts_preference": {"en": ["espeak"], "*": ["espeak"]}}
    )


def _translated(settings: Settings) -> Translated:
    store = open_settings_store(settings)
    segs = [
        Segment(
            id=f"s{i}", start=2.5 * i, end=2.5 * i + 2.0, text=t, translations={"en": Translation(text=t, engine="x")}
        )
        for i, t in enumerate(LINES)
    ]
    src = SourceInfo(uri="file:///in.wav", sha256="0" * 64, filename="in.wav", duration=8.0, has_video=False)
    script = Script(source=src, segments=segs, languages=["en"])
    uri = store.put_bytes("test/script.json", script.to_json())
    return Translated(
        language="en",
        script_uri=uri,
        engine={"id": "x"},
        lines=len(LINES),
        lines_by_engine={"x": len(LINES)},
        fallbacks=0,
        unvalidated=0,
        cached_lines=0,
        glossary_entries=0,
    )


def _clips(settings: Settings) -> list[str]:
    return open_settings_store(settings).list("clips")


def _via_gate(settings: Settings, use: str) -> None:
    require_consent(Voice("espeak", "en", "en", person_id="joe"), use, "en", TODAY, settings)


def _via_stage(settings: Settings, use: str) -> None:
    from pipeline.products.dubbing.synthesize import synthesize

    synthesize(settings, _translated(settings), use=use, today=TODAY.isoformat())


def _via_dag_entry(settings: Settings, use: str) -> None:
    """What the DAG's task calls."""
    from pipeline.products.dubbing.synthesize import synthesize
    from pipeline.stages.common import call_stage

    call_stage(synthesize, settings, _translated(settings), use=use, today=TODAY.isoformat())


PATHS = {"gate": _via_gate, "stage": _via_stage, "dag entry": _via_dag_entry}


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_refused_without_valid_consent(person_settings: Settings, grant: Any, scenario: str, path: str) -> None:
    setup, use, says = SCENARIOS[scenario]
    setup(grant, person_settings)
    with pytest.raises(ConsentError) as err:
        PATHS[path](person_settings, use)
    line = err.value.one_line()
    assert says in line and "person joe" in line and err.value.exit_code == 6, line
    assert _clips(person_settings) == [], "a line was synthesized before the refusal"


def test_unknown_use_is_refused(person_settings: Settings) -> None:
    for path in PATHS.values():
        with pytest.raises(ConsentError, match="unknown use 'karaoke'"):
            path(person_settings, "karaoke")
    assert _clips(person_settings) == []


def test_stock_voice_needs_no_consent(settings: Settings) -> None:
    assert require_consent(Voice("espeak", "en", "en"), "dubbing", "en", TODAY, settings) is None


def test_valid_consent_lets_the_stage_speak_and_is_recorded(person_settings: Settings, grant: Any) -> None:
    from pipeline.products.dubbing.synthesize import synthesize

    cid = grant(person_settings, languages=("en",), until=date(2026, 12, 31))
    assert require_consent(Voice("espeak", "en", "en", person_id="joe"), "dubbing", "en", TODAY, person_settings) == cid
    result = synthesize(person_settings, _translated(person_settings), today=TODAY.isoformat())
    assert result.consents == [cid]
    with db.session(person_settings) as s:
        from pipeline.ledger.consents import impact

        made = impact(s, "joe")
    assert len(made) == len(LINES) and all(a.stage == "synthesize" and c == [cid] for a, c in made)


def test_cached_stage_result_is_refused_after_revocation(person_settings: Settings, grant: Any) -> None:
    """A re-run that would only reuse the recorded result still passes the gate first."""
    from pipeline.products.dubbing.synthesize import synthesize

    grant(person_settings)
    synthesize(person_settings, _translated(person_settings), today=TODAY.isoformat())
    revoke_consent(person_settings, "joe", "withdrawn by email")
    with pytest.raises(ConsentError, match="was revoked"):
        synthesize(person_settings, _translated(person_settings), today=TODAY.isoformat())


def test_revocation_during_a_run_stops_the_remaining_lines(person_settings: Settings, grant: Any) -> None:
    from pipeline.ledger.consents import impact
    from pipeline.products.dubbing.synthesize import synthesize

    cid = grant(person_settings)
    steps: list[int] = []

    def revoke_after_first_line(stage: str, event: str, info: dict[str, Any]) -> None:
        if stage.startswith("synthesize") and event == "step":
            steps.append(int(info["done"]))
            if len(steps) == 1:
                revoke_consent(person_settings, "joe", "revoked while the job ran")

    unsubscribe = progress.subscribe(revoke_after_first_line)
    try:
        with pytest.raises(ConsentError) as err:
            synthesize(person_settings, _translated(person_settings), today=TODAY.isoformat())
    finally:
        unsubscribe()
    assert "was revoked" in err.value.one_line()
    assert steps == [1], "lines were spoken after the revocation"
    assert len(_clips(person_settings)) == 1
    with db.session(person_settings) as s:
        made = impact(s, "joe")
    assert len(made) == 1
    art, cids = made[0]
    assert cids == [cid] and art.flag == "consent_revoked" and "revoked while the job ran" in (art.flag_reason or "")


def test_cli_consent_impact_lists_flagged_lines(person_settings: Settings, grant: Any) -> None:
    from typer.testing import CliRunner

    from pipeline.cli.app import app
    from pipeline.products.dubbing.synthesize import synthesize

    grant(person_settings)
    synthesize(person_settings, _translated(person_settings), today=TODAY.isoformat())
    runner = CliRunner()
    r = runner.invoke(app, ["consent", "revoke", "--person", "joe", "--reason", "asked to stop"])
    assert r.exit_code == 0 and f"{len(LINES)} artifact(s) flagged" in r.output, r.output
    r = runner.invoke(app, ["consent", "impact", "--person", "joe"])
    assert r.exit_code == 0, r.output
    assert f"{len(LINES)} artifact(s) made with the voice of joe; {len(LINES)} flagged (consent revoked)" in r.output


def _count_refusal_paths() -> int:
    return len(SCENARIOS) * len(PATHS) + len(PATHS) + 2  # + unknown use per path, cached re-run, mid-run


def test_refusal_path_count_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    with capsys.disabled():
        print(
            f"\nways of reaching synthesis with a person's voice without valid consent tried: {_count_refusal_paths()}"
        )
    assert _count_refusal_paths() >= 30
