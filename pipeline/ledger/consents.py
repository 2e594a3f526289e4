"""Consent records: request, grant (with its evidence), refuse, revoke, expire; and which consent covers a use.

Every change adds a consent event and an audit row in the same transaction. The functions here take an
open session; pipeline.voice.consent orchestrates them (and does the slow checks outside any transaction).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.core.errors import ConsentError, InputError
from pipeline.ledger import audit
from pipeline.ledger.tables import (
    Artifact,
    ArtifactConsent,
    Consent,
    ConsentEvent,
    ConsentReference,
    Person,
    VoiceReference,
)

USES = ("dubbing", "audio_description", "audiobook")
ACTIVE = "granted"


def now() -> datetime:
    return datetime.now(UTC)


def _event(s: Session, c: Consent, event: str, reason: str = "", details: dict[str, Any] | None = None) -> None:
    who = audit.actor()
    s.add(ConsentEvent(consent_id=c.id, event=event, actor=who, at=now(), reason=reason, details=details))
    data: dict[str, Any] = {"person": c.person_id, "status": c.status, "reason": reason}
    if details:
        data["details"] = details
    audit.append(s, f"consent.{event}", "consent", c.id, data, who)


def ensure_person(s: Session, person_id: str, name: str | None = None) -> Person:
    p = s.get(Person, person_id)
    if p is None:
        p = Person(id=person_id, name=name or person_id, created_at=now())
        s.add(p)
        s.flush()
        audit.append(s, "person.create", "person", person_id, {"name": p.name})
    elif name and name != p.name:
        old, p.name = p.name, name
        audit.append(s, "person.rename", "person", person_id, {"from": old, "to": name})
    return p


def get_person(s: Session, person_id: str) -> Person:
    p = s.get(Person, person_id)
    if p is None:
        raise InputError(f"no person {person_id!r} in the ledger", "start with `dubline consent request --person ...`")
    return p


def request(
    s: Session,
    person: Person,
    uses: list[str],
    languages: list[str],
    projects: list[str] | None,
    today: date,
    until: date | None,
    statement: str,
    code: str,
) -> Consent:
    c = Consent(
        person_id=person.id,
        uses=uses,
        languages=languages,
        projects=projects,
        valid_from=today,
        valid_until=until,
        statement=statement,
        code=code,
        status="requested",
        requested_at=now(),
    )
    s.add(c)
    s.flush()
    _event(s, c, "requested", details={"uses": uses, "languages": languages, "projects": projects})
    return c


def pending(s: Session, person_id: str, request_id: int | None = None) -> Consent:
    """The request a grant answers: the one named, else the person's latest open request."""
    q = select(Consent).where(Consent.person_id == person_id, Consent.status == "requested")
    if request_id is not None:
        q = q.where(Consent.id == request_id)
    c = s.scalars(q.order_by(Consent.id.desc()).limit(1)).first()
    if c is None:
        which = f"request {request_id}" if request_id is not None else "request"
        raise ConsentError(
            f"no open consent {which} for person {person_id!r}",
            "run `dubline consent request` first and have the person read the statement it prints",
        )
    return c


def add_reference(
    s: Session, person: Person, uri: str, sha256: str, embedding: list[float], model: dict[str, Any], supplied_by: str
) -> VoiceReference:
    ref = s.scalars(
        select(VoiceReference).where(VoiceReference.person_id == person.id, VoiceReference.sha256 == sha256)
    ).first()
    if ref is None:
        ref = VoiceReference(
            person_id=person.id,
            uri=uri,
            sha256=sha256,
            embedding=embedding,
            embedding_model=model,
            supplied_by=supplied_by,
            created_at=now(),
        )
        s.add(ref)
        s.flush()
        audit.append(s, "voice_reference.add", "voice_reference", ref.id, {"person": person.id, "sha256": sha256})
    return ref


def record_grant(
    s: Session,
    c: Consent,
    recording_uri: str,
    recording_sha256: str,
    verification: dict[str, Any],
    references: list[VoiceReference],
) -> None:
    c.status, c.granted_at = ACTIVE, now()
    c.recording_uri, c.recording_sha256, c.verification = recording_uri, recording_sha256, verification
    for ref in references:
        s.add(ConsentReference(consent_id=c.id, reference_id=ref.id))
    s.flush()
    _event(s, c, "granted", details={"recording_sha256": recording_sha256, **_figures(verification)})


def record_refusal(s: Session, c: Consent, reason: str, verification: dict[str, Any]) -> None:
    _event(s, c, "refused", reason, details=_figures(verification))


def _figures(v: dict[str, Any]) -> dict[str, Any]:
    words, voice = v.get("words", {}), v.get("voice", {})
    return {"wer": words.get("wer"), "code_heard": words.get("code_heard"), "cosine_min": voice.get("cosine_min")}


def revoke(s: Session, c: Consent, reason: str) -> int:
    """Revoke; every artifact made under this consent is flagged. Returns how many were flagged."""
    if c.status == "revoked":
        return 0
    c.status = "revoked"
    flagged = 0
    at = now()
    for art in s.scalars(
        select(Artifact)
        .join(ArtifactConsent, ArtifactConsent.artifact_id == Artifact.id)
        .where(ArtifactConsent.consent_id == c.id)
    ):
        art.flag, art.flag_reason, art.flagged_at = "consent_revoked", f"consent {c.id} revoked: {reason}", at
        flagged += 1
    s.flush()
    _event(s, c, "revoked", reason, details={"artifacts_flagged": flagged})
    return flagged


def expire_due(s: Session, today: date) -> list[Consent]:
    """Mark granted consents whose end date has passed as expired (with their event)."""
    due = list(
        s.scalars(select(Consent).where(Consent.status == ACTIVE, Consent.valid_until.is_not(None)).with_for_update())
    )
    out = []
    for c in due:
        if c.valid_until is not None and c.valid_until < today:
            c.status = "expired"
            _event(s, c, "expired", f"valid until {c.valid_until.isoformat()}")
            out.append(c)
    return out


@dataclass(frozen=True)
class Coverage:
    consent: Consent | None
    reasons: list[str]


def why_not(c: Consent, use: str, language: str, on: date, project: str | None) -> str | None:
    """None if `c` covers this use, else what is missing."""
    tag = f"consent {c.id}"
    if c.status == "requested":
        return f"{tag} was requested but never granted"
    if c.status == "revoked":
        return f"{tag} was revoked"
    if c.status == "expired" or (c.valid_until is not None and on > c.valid_until):
        return f"{tag} expired on {c.valid_until.isoformat() if c.valid_until else '?'}"
    if c.status != ACTIVE:
        return f"{tag} has status {c.status}"
    if on < c.valid_from:
        return f"{tag} is valid only from {c.valid_from.isoformat()}"
    if use not in c.uses:
        return f"{tag} covers {', '.join(c.uses)}, not {use}"
    if language not in c.languages and "*" not in c.languages:
        return f"{tag} covers {', '.join(c.languages)}, not {language}"
    if c.projects and project not in c.projects:
        return f"{tag} covers the projects {', '.join(c.projects)}, not {project or '(no project)'}"
    if not c.recording_sha256 or not c.verification:
        return f"{tag} has no recorded evidence"
    return None


def covering(s: Session, person_id: str, use: str, language: str, on: date, project: str | None = None) -> Coverage:
    consents = list(s.scalars(select(Consent).where(Consent.person_id == person_id).order_by(Consent.id.desc())))
    if not consents:
        known = s.get(Person, person_id) is not None
        return Coverage(None, ["the person has no consent record" if known else "the person is not in the ledger"])
    reasons = []
    for c in consents:
        why = why_not(c, use, language, on, project)
        if why is None:
            return Coverage(c, [])
        reasons.append(why)
    return Coverage(None, reasons)


def impact(s: Session, person_id: str) -> list[tuple[Artifact, list[int]]]:
    """Every artifact made with this person's voice, with the consent ids it was made under."""
    rows = s.execute(
        select(Artifact, ArtifactConsent.consent_id)
        .join(ArtifactConsent, ArtifactConsent.artifact_id == Artifact.id)
        .join(Consent, Consent.id == ArtifactConsent.consent_id)
        .where(Consent.person_id == person_id)
        .order_by(Artifact.id)
    ).all()
    out: dict[int, tuple[Artifact, list[int]]] = {}
    for art, cid in rows:
        out.setdefault(art.id, (art, []))[1].append(cid)
    return list(out.values())


def events(s: Session, consent_id: int) -> list[ConsentEvent]:
    return list(s.scalars(select(ConsentEvent).where(ConsentEvent.consent_id == consent_id).order_by(ConsentEvent.id)))


def references(s: Session, consent_id: int) -> list[VoiceReference]:
    return list(
        s.scalars(
            select(VoiceReference)
            .join(ConsentReference, ConsentReference.reference_id == VoiceReference.id)
            .where(ConsentReference.consent_id == consent_id)
        )
    )
