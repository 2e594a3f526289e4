"""Voice profiles (a person's cloned voice) and the series voice map (the voice each speaker of a series keeps).

A profile row points at a profile folder in the object store (profile.json and the cloning backend's
files), made by `pipeline.voice.enroll` under a consent. The series map remembers, per series, speaker
and language, which engine voice (and pitch) a speaker was given, with the speaker's embedding centroid,
so that the next episode finds the same speaker and gives them the same voice.

Every change adds an audit row in the same transaction, as the consent records do. The functions take an
open session (`pipeline.ledger.db.session`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pipeline.core.errors import InputError
from pipeline.ledger import audit
from pipeline.ledger.tables import SeriesVoice, VoiceProfile, VoiceReference

ACTIVE = "active"
RETIRED = "retired"
ANY = "any"


def now() -> datetime:
    return datetime.now(UTC)


# --- small vector helpers (no numpy here: the ledger stays light; cosine is models.speaker's) --------


def centroid(vectors: Sequence[Sequence[float]]) -> list[float]:
    """The unit-length mean of several embeddings of one voice ([] for none)."""
    if not vectors:
        return []
    n = len(vectors[0])
    mean = [sum(float(v[i]) for v in vectors) / len(vectors) for i in range(n)]
    norm = math.sqrt(sum(x * x for x in mean))
    return [x / norm for x in mean] if norm else mean


# --- voice profiles --------------------------------------------------------------------------------


def _covers(languages: list[str], language: str) -> bool:
    return ANY in languages or language in languages


def _overlap(a: list[str], b: list[str]) -> bool:
    return ANY in a or ANY in b or bool(set(a) & set(b))


def add_profile(
    s: Session,
    person_id: str,
    backend: str,
    languages: list[str],
    uri: str,
    sha256: str,
    figures: dict[str, Any],
    reference_ids: list[int],
    consent_id: int,
) -> tuple[VoiceProfile, bool]:
    """Record a profile an enrolment built. Returns (profile, created).

    Idempotent: an active profile of this person at the same URI with the same profile.json (sha256) is
    returned as it is (created False). A new profile retires the person's older active profiles for the
    same language(s), so one voice per person and language is active."""
    languages = list(dict.fromkeys(languages)) or [ANY]
    same = s.scalars(
        select(VoiceProfile).where(
            VoiceProfile.person_id == person_id,
            VoiceProfile.uri == uri,
            VoiceProfile.sha256 == sha256,
            VoiceProfile.status == ACTIVE,
        )
    ).first()
    if same is not None:
        return same, False
    p = VoiceProfile(
        person_id=person_id,
        backend=backend,
        languages=languages,
        uri=uri,
        sha256=sha256,
        figures=figures,
        reference_ids=list(reference_ids),
        consent_id=consent_id,
        status=ACTIVE,
        created_at=now(),
    )
    s.add(p)
    s.flush()
    data = {
        "person": person_id,
        "backend": backend,
        "languages": languages,
        "uri": uri,
        "sha256": sha256,
        "consent": consent_id,
        "references": list(reference_ids),
        "figures": figures,
    }
    audit.append(s, "voice_profile.create", "voice_profile", p.id, data)
    for old in profiles(s, person_id):
        if old.id != p.id and old.status == ACTIVE and _overlap(old.languages, languages):
            retire(s, old, f"superseded by profile {p.id}")
    return p, True


def get_profile(s: Session, profile_id: int) -> VoiceProfile:
    p = s.get(VoiceProfile, profile_id)
    if p is None:
        raise InputError(f"no voice profile {profile_id}", "see `dubline voice list`")
    return p


def retire(s: Session, profile: VoiceProfile | int, reason: str) -> VoiceProfile:
    """Mark a profile retired (it is no longer used for new lines); a no-op for a retired one."""
    p = get_profile(s, profile) if isinstance(profile, int) else profile
    if p.status == RETIRED:
        return p
    p.status = RETIRED
    s.flush()
    audit.append(s, "voice_profile.retire", "voice_profile", p.id, {"person": p.person_id, "reason": reason})
    return p


def profiles(s: Session, person_id: str | None = None) -> list[VoiceProfile]:
    """Every profile (or one person's), oldest first."""
    q = select(VoiceProfile).order_by(VoiceProfile.id)
    if person_id is not None:
        q = q.where(VoiceProfile.person_id == person_id)
    return list(s.scalars(q))


def active_profile(s: Session, person_id: str, language: str) -> VoiceProfile | None:
    """The person's newest active profile that speaks `language` (built for it, or for any language)."""
    q = (
        select(VoiceProfile)
        .where(VoiceProfile.person_id == person_id, VoiceProfile.status == ACTIVE)
        .order_by(VoiceProfile.id.desc())
    )
    return next((p for p in s.scalars(q) if _covers(p.languages, language)), None)


def reference_embeddings(s: Session, reference_ids: list[int]) -> list[list[float]]:
    if not reference_ids:
        return []
    refs = s.scalars(select(VoiceReference).where(VoiceReference.id.in_(reference_ids)))
    return [list(r.embedding) for r in refs]


class Enrolled(NamedTuple):
    person_id: str
    centroid: list[float]  # unit-length mean embedding of the references the profile was built from
    profile: VoiceProfile


def enrolled_people(s: Session, language: str | None = None) -> list[Enrolled]:
    """Each person with an active profile (for `language`, if given), with the centroid of the voice it
    clones: what a diarized speaker's embedding is compared with to find a consented voice for them.

    The centroid is that of the profile's references, else of all the person's references."""
    out: list[Enrolled] = []
    seen: set[str] = set()
    q = select(VoiceProfile).where(VoiceProfile.status == ACTIVE).order_by(VoiceProfile.id.desc())
    for p in s.scalars(q):
        if p.person_id in seen or (language is not None and not _covers(p.languages, language)):
            continue
        embs = reference_embeddings(s, p.reference_ids)
        if not embs:
            all_refs = s.scalars(select(VoiceReference).where(VoiceReference.person_id == p.person_id))
            embs = [list(r.embedding) for r in all_refs]
        if not embs:
            continue
        seen.add(p.person_id)
        out.append(Enrolled(p.person_id, centroid(embs), p))
    return sorted(out, key=lambda e: e.person_id)


# --- the series voice map --------------------------------------------------------------------------


def series_map(s: Session, series: str, language: str | None = None) -> list[SeriesVoice]:
    """The voices a series' speakers have in `language` (every language when None), by speaker key."""
    q = select(SeriesVoice).where(SeriesVoice.series == series)
    if language is not None:
        q = q.where(SeriesVoice.language == language)
    return list(s.scalars(q.order_by(SeriesVoice.language, SeriesVoice.speaker_key)))


def _find(s: Session, series: str, speaker_key: str, language: str) -> SeriesVoice | None:
    return s.scalars(
        select(SeriesVoice).where(
            SeriesVoice.series == series, SeriesVoice.speaker_key == speaker_key, SeriesVoice.language == language
        )
    ).first()


def remember_series_voice(
    s: Session,
    series: str,
    speaker_key: str,
    language: str,
    engine: str,
    voice_id: str,
    pitch: float = 1.0,
    person_id: str | None = None,
    embedding: Sequence[float] | None = None,
    *,
    replace: bool = False,
) -> tuple[SeriesVoice, bool]:
    """The voice of (series, speaker, language): the stored one if there is one (so every episode keeps
    the voice the first gave), else this one, stored. Returns (row, created).

    replace=True overwrites a stored voice (an editor's decision). Safe under concurrent episodes: a row
    another transaction inserted first wins."""
    if not series or not speaker_key or not language:
        raise InputError("a series voice needs a series, a speaker key and a language", "give all three")
    row = _find(s, series, speaker_key, language)
    emb = [float(x) for x in embedding] if embedding is not None else None
    if row is not None:
        if replace:
            before = {"engine": row.engine, "voice": row.voice_id, "pitch": row.pitch, "person": row.person_id}
            row.engine, row.voice_id, row.pitch, row.person_id = engine, voice_id, float(pitch), person_id
            if emb is not None:
                row.embedding = emb
            s.flush()
            after = {"engine": engine, "voice": voice_id, "pitch": float(pitch), "person": person_id}
            audit.append(s, "series_voice.replace", "series_voice", row.id, {"from": before, "to": after})
        return row, False
    row = SeriesVoice(
        series=series,
        speaker_key=speaker_key,
        language=language,
        engine=engine,
        voice_id=voice_id,
        pitch=float(pitch),
        person_id=person_id,
        embedding=emb,
        created_at=now(),
    )
    try:
        with s.begin_nested():
            s.add(row)
            s.flush()
    except IntegrityError:  # another episode stored this speaker's voice meanwhile: theirs stands
        found = _find(s, series, speaker_key, language)
        if found is None:
            raise
        return found, False
    data = {
        "series": series,
        "speaker": speaker_key,
        "language": language,
        "engine": engine,
        "voice": voice_id,
        "pitch": float(pitch),
        "person": person_id,
    }
    audit.append(s, "series_voice.add", "series_voice", row.id, data)
    return row, True
