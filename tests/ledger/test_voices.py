"""Voice profiles, the series voice map and the enrolment stage (SQLite and PostgreSQL).

The enrolment runs with in-process fakes: a fake listener (speech seconds and a speaker embedding written
in each test recording) and a fake cloning backend (counts its searches). The real Resemblyzer check of
another person's voice is in test_enroll_real_voices (fixtures jfk.flac and lecture_en_60s.wav).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect

from models.base import EngineError, ModelInfo
from models.speaker import cosine
from pipeline.core.config import Settings
from pipeline.core.errors import ConsentError, InputError, SetupError, StageError
from pipeline.ledger import db, voices

# --- fakes -----------------------------------------------------------------------------------------

VOICES = {
    "joe": [1.0, 0.2, 0.0, 0.1],
    "joe2": [0.95, 0.25, 0.05, 0.1],  # joe on another day: cosine about 0.99 to "joe"
    "ann": [0.0, 0.1, 1.0, 0.3],  # another person: cosine about 0.1 to "joe"
}


def recording(folder: Path, name: str, voice: str = "joe", speech_s: float = 6.0) -> Path:
    """A test 'recording': the fake listener reads its speech seconds and voice from the file."""
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / name
    p.write_text(json.dumps({"voice": voice, "speech_s": speech_s}))
    return p


def fake_measure(path: Path, settings: Any = None) -> Any:
    from pipeline.voice.enroll import Heard

    try:
        doc = json.loads(Path(path).read_text())
    except (ValueError, UnicodeDecodeError):
        raise EngineError(f"could not decode {path}: Invalid data found when processing input") from None
    emb = VOICES[doc["voice"]] if doc["speech_s"] >= 1.0 else []
    return Heard(float(doc["speech_s"]), list(emb))


class FakeCloner:
    """Writes a 'style vector' and profile.json; records each search."""

    name = "fake-search"
    info = ModelInfo(id="fake-cloner", version="1")

    def __init__(self) -> None:
        self.searches: list[tuple[list[Path], str, float]] = []

    def enroll(
        self, references: list[Path], out_dir: Path, language: str, *, budget_s: float, progress: Any = None
    ) -> dict[str, Any]:
        self.searches.append((list(references), language, budget_s))
        if progress:
            progress("searching", 0.5)
        (out_dir / "style.json").write_text(json.dumps([0.1] * 8))
        doc = {"backend": self.name, "held_out_similarity": 0.81, "wer": 0.05, "seconds": 12.5, "base": "ef_dora"}
        (out_dir / "profile.json").write_text(json.dumps(doc))
        return doc

    def load(self, profile_dir: Path, person_id: str) -> Any:
        raise NotImplementedError


@pytest.fixture
def cloner(monkeypatch: pytest.MonkeyPatch) -> FakeCloner:
    from pipeline.voice import enroll

    fake = FakeCloner()
    monkeypatch.setattr(enroll, "measure_reference", fake_measure)
    monkeypatch.setattr(enroll, "speaker_model", lambda: {"id": "fake-speaker", "version": "1", "sha256": ""})
    monkeypatch.setattr(enroll, "make_cloner", lambda settings, backend: fake)
    return fake


def consent_with_references(settings: Settings, grant: Any, person: str = "joe", voice: str = "joe", **kw: Any) -> int:
    """A granted consent whose recorded voice references have `voice`'s embedding."""
    from pipeline.ledger import consents as ledger
    from pipeline.ledger.tables import ConsentReference

    cid: int = grant(settings, person=person, **kw)
    with db.session(settings) as s:
        who = ledger.get_person(s, person)
        ref = ledger.add_reference(
            s, who, f"file:///refs/{person}.wav", f"{person}-sha".ljust(64, "0"), VOICES[voice], {"id": "x"}, "t"
        )
        s.add(ConsentReference(consent_id=cid, reference_id=ref.id))
    return cid


def _audit_ok(settings: Settings) -> int:
    from pipeline.ledger import audit

    with db.session(settings) as s:
        result = audit.verify(s)
    assert result.ok, result.problems
    return result.rows


# --- the migration ---------------------------------------------------------------------------------


def test_migration_adds_and_removes_the_voice_tables(empty_db_url: str) -> None:
    db.upgrade(empty_db_url, "0002")
    engine = db.get_engine(empty_db_url)
    assert not {"voice_profiles", "series_voices"} & set(inspect(engine).get_table_names())
    db.upgrade(empty_db_url)
    insp = inspect(engine)
    assert {"voice_profiles", "series_voices"} <= set(insp.get_table_names())
    uniques = [u["column_names"] for u in insp.get_unique_constraints("series_voices")]
    assert ["series", "speaker_key", "language"] in uniques
    fks = {fk["referred_table"] for fk in insp.get_foreign_keys("voice_profiles")}
    assert fks == {"people", "consents"}
    from alembic import command

    with engine.connect() as conn:
        cfg = db._alembic_config(empty_db_url)
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0002")
        conn.commit()
    engine.dispose()
    assert not {"voice_profiles", "series_voices"} & set(inspect(db.get_engine(empty_db_url)).get_table_names())


# --- profiles --------------------------------------------------------------------------------------


def _add(s: Any, cid: int, sha: str, languages: list[str], person: str = "joe") -> tuple[Any, bool]:
    figures = {"held_out_similarity": 0.8, "wer": 0.04, "seconds": 30.0}
    return voices.add_profile(s, person, "fake", languages, f"file:///p/{sha}", sha.ljust(64, "0"), figures, [], cid)


def test_profiles_are_recorded_once_supersede_and_retire(settings: Settings, grant: Any) -> None:
    cid = consent_with_references(settings, grant, languages=("es", "fr"))
    with db.session(settings) as s:
        p1, created1 = _add(s, cid, "a", ["es"])
        again, created_again = _add(s, cid, "a", ["es"])
        fr, _ = _add(s, cid, "b", ["fr"])
        ids = (p1.id, fr.id)
    assert created1 and not created_again and again.id == ids[0]
    with db.session(settings) as s:
        assert voices.active_profile(s, "joe", "es").id == ids[0]  # type: ignore[union-attr]
        assert voices.active_profile(s, "joe", "fr").id == ids[1]  # type: ignore[union-attr]
        assert voices.active_profile(s, "joe", "de") is None
        p3, _ = _add(s, cid, "c", ["es"])  # a newer Spanish voice retires the older one, not the French one
        new_id = p3.id
    with db.session(settings) as s:
        assert [(p.id, p.status) for p in voices.profiles(s, "joe")] == [
            (ids[0], "retired"),
            (ids[1], "active"),
            (new_id, "active"),
        ]
        assert voices.active_profile(s, "joe", "es").id == new_id  # type: ignore[union-attr]
        anyp, _ = _add(s, cid, "d", ["any"])  # a profile for any language supersedes both
        assert voices.active_profile(s, "joe", "de").id == anyp.id  # type: ignore[union-attr]
        assert [p.status for p in voices.profiles(s, "joe")] == ["retired", "retired", "retired", "active"]
        voices.retire(s, anyp.id, "operator")
        assert voices.active_profile(s, "joe", "es") is None
        assert voices.profiles(s, "nobody") == []
        with pytest.raises(InputError, match="no voice profile 999"):
            voices.get_profile(s, 999)
    rows = _audit_ok(settings)
    from sqlalchemy import select

    from pipeline.ledger.tables import AuditEntry

    with db.session(settings) as s:
        actions = [a for a in s.scalars(select(AuditEntry.action)) if a.startswith("voice_profile")]
    assert actions.count("voice_profile.create") == 4 and actions.count("voice_profile.retire") == 4 and rows > 8


def test_enrolled_people_carry_the_centroid_of_their_references(settings: Settings, grant: Any) -> None:
    from pipeline.ledger import consents as ledger

    cid = consent_with_references(settings, grant, languages=("es",))
    ann = consent_with_references(settings, grant, person="ann", voice="ann", languages=("fr",))
    with db.session(settings) as s:
        who = ledger.get_person(s, "joe")
        r2 = ledger.add_reference(s, who, "file:///r2", "r2".ljust(64, "0"), VOICES["joe2"], {"id": "x"}, "t")
        voices.add_profile(s, "joe", "fake", ["es"], "file:///p", "p".ljust(64, "0"), {}, [r2.id], cid)
        voices.add_profile(s, "ann", "fake", ["fr"], "file:///q", "q".ljust(64, "0"), {}, [], ann)
    with db.session(settings) as s:
        found = voices.enrolled_people(s)
        assert [e.person_id for e in found] == ["ann", "joe"]
        joe = found[1]
        assert cosine(joe.centroid, VOICES["joe2"]) == pytest.approx(1.0)  # the profile's own references
        assert cosine(found[0].centroid, VOICES["ann"]) == pytest.approx(1.0)  # no ids: all of ann's
        assert [e.person_id for e in voices.enrolled_people(s, "es")] == ["joe"]
        assert sum(x * x for x in joe.centroid) == pytest.approx(1.0)
        person, centroid, profile = joe  # a plain tuple too
        assert (person, profile.person_id) == ("joe", "joe") and centroid == joe.centroid


# --- the series voice map --------------------------------------------------------------------------


def test_series_map_keeps_the_first_voice_of_each_speaker(settings: Settings, grant: Any) -> None:
    grant(settings, person="joe")
    with db.session(settings) as s:
        a, created = voices.remember_series_voice(s, "show", "S1", "es", "piper", "es_ES-davefx", 0.9, None, [1, 0])
        b, again = voices.remember_series_voice(s, "show", "S1", "es", "pico", "es-ES", 1.2, None, [0, 1])
        voices.remember_series_voice(s, "show", "S2", "es", "kokoro", "ef_dora", 1.0, "joe", [0, 1])
        voices.remember_series_voice(s, "show", "S1", "fr", "pico", "fr-FR", 1.0)
        voices.remember_series_voice(s, "other", "S1", "es", "pico", "es-ES", 1.0)
    assert created and not again and b.id == a.id
    with db.session(settings) as s:
        rows = voices.series_map(s, "show", "es")
        assert [(r.speaker_key, r.engine, r.voice_id, r.pitch, r.person_id) for r in rows] == [
            ("S1", "piper", "es_ES-davefx", 0.9, None),
            ("S2", "kokoro", "ef_dora", 1.0, "joe"),
        ]
        assert len(voices.series_map(s, "show")) == 3 and voices.series_map(s, "none", "es") == []
        replaced, _ = voices.remember_series_voice(s, "show", "S1", "es", "pico", "es-ES", 1.1, replace=True)
        assert (replaced.engine, replaced.pitch, replaced.embedding) == ("pico", 1.1, [1.0, 0.0])
        with pytest.raises(InputError, match="needs a series"):
            voices.remember_series_voice(s, "", "S1", "es", "pico", "es-ES")
    _audit_ok(settings)


def test_a_speaker_stored_by_a_concurrent_episode_wins(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two episodes store the same speaker at once: the unique key keeps one row, the second gets it back."""
    with db.session(settings) as s1:
        first, created1 = voices.remember_series_voice(s1, "show", "S1", "es", "piper", "a", 1.0)
        s1.commit()
    with db.session(settings) as s2:
        orig = voices._find
        calls = []

        def blind(*a: Any) -> Any:  # the second episode looked before the first committed
            calls.append(a)
            return None if len(calls) == 1 else orig(*a)

        monkeypatch.setattr(voices, "_find", blind)
        second, created2 = voices.remember_series_voice(s2, "show", "S1", "es", "pico", "b", 1.3)
    assert created1 and not created2 and (second.id, second.voice_id) == (first.id, "a")


# --- the enrolment stage ---------------------------------------------------------------------------


def _stage_outputs(settings: Settings) -> list[Path]:
    root = settings.data_dir / "store" / "stages" / "enroll"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_enrol_with_consent_builds_once_and_records_the_profile(
    settings: Settings, grant: Any, cloner: FakeCloner, tmp_path: Path
) -> None:
    from pipeline.voice.enroll import enroll, profile_folder

    cid = consent_with_references(settings, grant, languages=("es",))
    refs = [str(recording(tmp_path / "in", f"joe{i}.wav", "joe2", 5.5)) for i in range(2)]
    out = enroll(settings, "joe", refs, "es", budget_s=60)
    assert (out.created, out.searched, out.consent_id, out.backend) == (True, True, cid, "fake-search")
    assert out.figures == {"held_out_similarity": 0.81, "wer": 0.05, "seconds": 12.5}
    assert len(cloner.searches) == 1 and cloner.searches[0][1:] == ("es", 60.0)
    profile_dir = Path(out.uri.removeprefix("file://"))
    assert sorted(p.name for p in profile_dir.iterdir()) == ["profile.json", "style.json"]
    import hashlib

    assert hashlib.sha256((profile_dir / "profile.json").read_bytes()).hexdigest() == out.sha256
    assert profile_folder(settings, out.uri, out.sha256) == profile_dir
    again = enroll(settings, "joe", refs, "es", budget_s=60)  # same references, backend, budget: no search
    assert len(cloner.searches) == 1 and not again.created and not again.searched
    assert again.profile_id == out.profile_id
    enroll(settings, "joe", refs, "es", budget_s=90)  # another budget: searched again
    assert len(cloner.searches) == 2
    with db.session(settings) as s:
        p = voices.active_profile(s, "joe", "es")
        assert p is not None and p.consent_id == cid and len(p.reference_ids) == 2
        [enrolled] = voices.enrolled_people(s, "es")
        assert cosine(enrolled.centroid, VOICES["joe2"]) == pytest.approx(1.0)
    _audit_ok(settings)
    (profile_dir / "profile.json").write_text("{}")
    with pytest.raises(StageError, match="was changed: its profile.json has sha256"):
        profile_folder(settings, out.uri, out.sha256)


@pytest.mark.parametrize(
    ("consent", "says"),
    [
        ({}, "the person is not in the ledger"),
        ({"status": "revoked"}, "was revoked"),
        ({"status": "requested"}, "was requested but never granted"),
        ({"languages": ("fr",)}, "covers fr, not es"),
        ({"uses": ("audiobook",)}, "covers audiobook, not dubbing"),
    ],
)
def test_enrol_without_a_covering_consent_is_refused_before_anything(
    settings: Settings, grant: Any, cloner: FakeCloner, tmp_path: Path, consent: dict[str, Any], says: str
) -> None:
    from pipeline.voice.enroll import enroll

    if consent:
        grant(settings, **consent)
    refs = [str(recording(tmp_path / "in", "joe.wav", "joe", 12))]
    with pytest.raises(ConsentError) as err:
        enroll(settings, "joe", refs, "es")
    assert says in err.value.one_line() and err.value.exit_code == 6
    assert "dubline consent request" in err.value.one_line()
    assert cloner.searches == [] and _stage_outputs(settings) == []
    assert not (settings.data_dir / "store" / "consent" / "references").exists()


def test_enrol_of_another_persons_voice_is_refused(
    settings: Settings, grant: Any, cloner: FakeCloner, tmp_path: Path
) -> None:
    from pipeline.voice.enroll import enroll

    consent_with_references(settings, grant, languages=("es",))
    refs = [str(recording(tmp_path / "in", "joe.wav", "joe", 6)), str(recording(tmp_path / "in", "ann.wav", "ann", 6))]
    with pytest.raises(ConsentError) as err:
        enroll(settings, "joe", refs, "es")
    msg = err.value.one_line()
    assert "ann.wav does not sound like the consented voice of person joe" in msg and "below 0.75" in msg
    assert cloner.searches == [] and _stage_outputs(settings) == []
    with db.session(settings) as s:
        assert voices.profiles(s) == []


def test_enrol_needs_consented_references_to_compare_with(
    settings: Settings, grant: Any, cloner: FakeCloner, tmp_path: Path
) -> None:
    from pipeline.voice.enroll import enroll

    grant(settings, languages=("es",))  # granted, but no voice reference recorded
    with pytest.raises(ConsentError, match="records no voice reference"):
        enroll(settings, "joe", [str(recording(tmp_path, "joe.wav", "joe", 12))], "es")
    assert cloner.searches == []


def test_enrol_refuses_bad_references(settings: Settings, grant: Any, cloner: FakeCloner, tmp_path: Path) -> None:
    from pipeline.voice.enroll import enroll

    consent_with_references(settings, grant, languages=("es",))
    short = [str(recording(tmp_path, "a.wav", "joe", 4.0)), str(recording(tmp_path, "b.wav", "joe", 3.5))]
    with pytest.raises(InputError) as err:
        enroll(settings, "joe", short, "es")
    msg = err.value.one_line()
    assert "7.5 s of speech (a.wav 4.0 s, b.wav 3.5 s)" in msg and "at least 10 s" in msg
    assert "add more or longer recordings" in msg and err.value.exit_code == 2
    with pytest.raises(InputError, match=r"nothing\.wav does not exist"):
        enroll(settings, "joe", [str(tmp_path / "nothing.wav")], "es")
    noise = tmp_path / "noise.wav"
    noise.write_bytes(b"\x00\xff" * 100)
    with pytest.raises(InputError, match=r"noise\.wav could not be read as audio"):
        enroll(settings, "joe", [str(noise)], "es")
    silent = [str(recording(tmp_path, "long.wav", "joe", 12)), str(recording(tmp_path, "blip.wav", "joe", 0.4))]
    with pytest.raises(InputError, match=r"blip\.wav holds 0\.4 s of speech, too little"):
        enroll(settings, "joe", silent, "es")
    with pytest.raises(InputError, match="no reference recording given"):
        enroll(settings, "joe", [], "es")
    assert cloner.searches == []


def test_a_revocation_during_the_search_stops_the_enrolment(
    settings: Settings, grant: Any, cloner: FakeCloner, tmp_path: Path
) -> None:
    from pipeline.voice import enroll as stage
    from pipeline.voice.consent import revoke_consent

    consent_with_references(settings, grant, languages=("es",))
    checked = stage.check(settings, "joe", [str(recording(tmp_path, "joe.wav", "joe", 12))], "es")
    built = stage.build(settings, checked)
    revoke_consent(settings, "joe", "changed their mind")
    with pytest.raises(ConsentError, match="was revoked"):
        stage.record(settings, checked, built)
    with db.session(settings) as s:
        assert voices.profiles(s) == []


@pytest.mark.slow
@pytest.mark.fixtures
def test_enroll_real_voices(
    settings: Settings, grant: Any, fixtures_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Resemblyzer on real speech: J. F. Kennedy's consent lets his voice be enrolled from jfk.flac, and
    refuses the lecturer's voice (lecture_en_60s.wav) under it; a 2 s cut is too short."""
    import subprocess

    from models.speaker import ResemblyzerEncoder
    from pipeline.ledger import consents as ledger
    from pipeline.ledger.tables import ConsentReference
    from pipeline.voice import enroll as stage

    fake = FakeCloner()
    monkeypatch.setattr(stage, "make_cloner", lambda settings, backend: fake)
    jfk, lecture = fixtures_dir / "jfk.flac", fixtures_dir / "lecture_en_60s.wav"
    first = tmp_path / "jfk_first5s.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(jfk), "-t", "5", str(first)], check=True)
    cid = grant(settings, person="jfk", languages=("es",))
    with db.session(settings) as s:
        who = ledger.get_person(s, "jfk")
        emb = [float(x) for x in ResemblyzerEncoder().embed(first)]
        ref = ledger.add_reference(s, who, first.as_uri(), "f".ljust(64, "0"), emb, {"id": "resemblyzer"}, "t")
        s.add(ConsentReference(consent_id=cid, reference_id=ref.id))
    out = stage.enroll(settings, "jfk", [str(jfk)], "es")
    assert out.created and out.speech_s >= 10
    with pytest.raises(ConsentError, match=r"lecture_en_60s\.wav does not sound like the consented voice"):
        stage.enroll(settings, "jfk", [str(lecture)], "es")
    with pytest.raises(InputError, match=r"enrolling a voice needs at least 10 s"):
        stage.enroll(settings, "jfk", [str(first)], "es")
    assert len(fake.searches) == 1


def test_an_unknown_backend_is_refused_after_the_consent_check(
    settings: Settings, grant: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline.core.errors import ConfigError
    from pipeline.voice import enroll as stage

    monkeypatch.setattr(stage, "measure_reference", fake_measure)
    refs = [str(recording(tmp_path, "joe.wav", "joe", 12))]
    with pytest.raises(ConsentError):  # consent first, whatever the backend
        stage.enroll(settings, "joe", refs, "es", backend="nonsense")
    consent_with_references(settings, grant, languages=("es",))
    with pytest.raises(ConfigError, match="unknown cloning backend 'nonsense'. use one of auto, knn-vc, kokoro-search"):
        stage.enroll(settings, "joe", refs, "es", backend="nonsense")
    with pytest.raises(SetupError, match="cannot import no_such_module"):
        stage.enroll(settings, "joe", refs, "es", backend="no_such_module:Cloner")
