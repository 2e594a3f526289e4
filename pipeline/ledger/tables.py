"""The ledger's tables (SQLAlchemy 2 typed ORM). The schema is created and changed only by the Alembic
migrations in pipeline/migrations; keep the two in step (tests compare them).

people -> voice_references, consents (-> consent_events, consent_references), voice_profiles ; series_voices ;
jobs ; artifacts (-> artifact_inputs, artifact_consents) ; audit_log (+ audit_head, the chain's head).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Person(Base):
    __tablename__ = "people"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)  # a short handle: "joe"
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class VoiceReference(Base):
    """A recording of a person's voice that may be cloned, with its speaker embedding."""

    __tablename__ = "voice_references"
    __table_args__ = (UniqueConstraint("person_id", "sha256", name="uq_voice_ref_person_sha"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id"), index=True)
    uri: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    embedding: Mapped[list[float]] = mapped_column(JSON)
    embedding_model: Mapped[dict[str, Any]] = mapped_column(JSON)
    supplied_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Consent(Base):
    """What a person agreed to, and the evidence. status: requested | granted | revoked | expired."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id"), index=True)
    uses: Mapped[list[str]] = mapped_column(JSON)
    languages: Mapped[list[str]] = mapped_column(JSON)
    projects: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)  # None: any project
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date, nullable=True)
    statement: Mapped[str] = mapped_column(Text)
    code: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(20), index=True)
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    granted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    recording_uri: Mapped[str | None] = mapped_column(Text, nullable=True)
    recording_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    verification: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class ConsentReference(Base):
    """The voice references a consent lets be cloned."""

    __tablename__ = "consent_references"

    consent_id: Mapped[int] = mapped_column(ForeignKey("consents.id"), primary_key=True)
    reference_id: Mapped[int] = mapped_column(ForeignKey("voice_references.id"), primary_key=True)


class ConsentEvent(Base):
    """requested, refused (a failed grant), granted, revoked, expired: who, when, why."""

    __tablename__ = "consent_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    consent_id: Mapped[int] = mapped_column(ForeignKey("consents.id"), index=True)
    event: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dag_id: Mapped[str] = mapped_column(String(100))
    run_id: Mapped[str | None] = mapped_column(String(250), nullable=True)
    input: Mapped[str] = mapped_column(Text)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20))  # running | success | failed
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    wall_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    outputs: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class Artifact(Base):
    """A file a stage produced (a synthesized line in a person's voice, a published output)."""

    __tablename__ = "artifacts"
    __table_args__ = (Index("ix_artifacts_uri", "uri"), Index("ix_artifacts_watermark", "watermark"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uri: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(100))
    stage: Mapped[str] = mapped_column(String(50))
    models: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    dag_id: Mapped[str | None] = mapped_column(String(250), nullable=True)
    run_id: Mapped[str | None] = mapped_column(String(250), nullable=True)
    task_id: Mapped[str | None] = mapped_column(String(250), nullable=True)
    manifest: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    flag: Mapped[str | None] = mapped_column(String(30), nullable=True)  # "consent_revoked"
    flag_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    flagged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    watermark: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # payload of a marked dub track


class ArtifactInput(Base):
    __tablename__ = "artifact_inputs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    artifact_id: Mapped[int] = mapped_column(ForeignKey("artifacts.id"), index=True)
    role: Mapped[str] = mapped_column(String(50))
    uri: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    input_artifact_id: Mapped[int | None] = mapped_column(ForeignKey("artifacts.id"), nullable=True)


class ArtifactConsent(Base):
    __tablename__ = "artifact_consents"

    artifact_id: Mapped[int] = mapped_column(ForeignKey("artifacts.id"), primary_key=True)
    consent_id: Mapped[int] = mapped_column(ForeignKey("consents.id"), primary_key=True, index=True)


class AuditEntry(Base):
    """Append-only: each row carries the sha256 of its canonical content and of the row before it."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(50))
    entity: Mapped[str] = mapped_column(String(50))
    entity_id: Mapped[str] = mapped_column(String(100))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """One row (id 1): the last sequence number and hash; appends lock it, so the chain stays linear."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


class VoiceProfile(Base):
    """A person's cloned voice: the profile folder an enrolment built (profile.json + the backend's files).

    Made only under a consent (consent_id, checked at enrolment); synthesis checks consent again per line.
    languages: those it was built for, or ["any"]. status: active | retired (a newer profile for the same
    person and language retires the older one)."""

    __tablename__ = "voice_profiles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id"), index=True)
    backend: Mapped[str] = mapped_column(String(100))
    languages: Mapped[list[str]] = mapped_column(JSON)
    uri: Mapped[str] = mapped_column(Text)  # the profile folder in the object store (ends with "/")
    sha256: Mapped[str] = mapped_column(String(64))  # of profile.json
    figures: Mapped[dict[str, Any]] = mapped_column(JSON)  # held_out_similarity, wer, seconds
    reference_ids: Mapped[list[int]] = mapped_column(JSON)  # voice_references it was built from
    consent_id: Mapped[int] = mapped_column(ForeignKey("consents.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SeriesVoice(Base):
    """The voice a speaker of a series was given in one language, so that every episode keeps it.

    speaker_key is the series-level name of the speaker; embedding (their speaker centroid) lets a later
    episode's diarized speaker be matched to it. person_id is set when the voice is a person's."""

    __tablename__ = "series_voices"
    __table_args__ = (UniqueConstraint("series", "speaker_key", "language", name="uq_series_voice"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    series: Mapped[str] = mapped_column(String(200), index=True)
    speaker_key: Mapped[str] = mapped_column(String(100))
    language: Mapped[str] = mapped_column(String(20))
    engine: Mapped[str] = mapped_column(String(50))
    voice_id: Mapped[str] = mapped_column(String(200))
    pitch: Mapped[float] = mapped_column(Float)
    person_id: Mapped[str | None] = mapped_column(ForeignKey("people.id"), nullable=True)
    embedding: Mapped[list[float] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ScriptRevision(Base):
    """A reviewer's edit of a job's transcript or translation, applied as a new revision of its Script.

    input_sha256 is the source media's; kind: transcript | translation; revision the Script's revision number
    after the edit; before/after_sha256 the edited view's script hash either side of it; changes the fields
    changed ({id, field, language, before, after}); stale the lines it made stale ({language: {id: why}});
    review what the review gate recorded (who approved, when, or that it timed out). The same edit applied to
    the same script again (a re-run) is one row."""

    __tablename__ = "script_revisions"
    __table_args__ = (
        UniqueConstraint("input_sha256", "language", "kind", "edit_sha256", "before_sha256", name="uq_script_revision"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    input_sha256: Mapped[str] = mapped_column(String(64), index=True)
    language: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(20))
    revision: Mapped[int] = mapped_column(Integer)
    editor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    edit_name: Mapped[str] = mapped_column(String(500))
    edit_sha256: Mapped[str] = mapped_column(String(64))
    edit_format: Mapped[str] = mapped_column(String(20))
    before_sha256: Mapped[str] = mapped_column(String(64))
    after_sha256: Mapped[str] = mapped_column(String(64))
    changes: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    stale: Mapped[dict[str, dict[str, str]]] = mapped_column(JSON)
    review: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    script_uri: Mapped[str] = mapped_column(Text)
