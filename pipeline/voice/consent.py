"""Consent: the gate the synthesis stage calls before any line is spoken in a person's voice, and the
"voice captcha" that records a consent.

Stock voices (no person) need no consent. A person's voice needs a consent record, granted and not
revoked, that covers this use, this language, this project (or any) and this date; otherwise
ConsentError names what is missing. The stage calls the gate before its first line and again before
every line, so a revocation while a job runs stops the lines not yet spoken; the lines already made are
recorded as artifacts under the consent, so `dubline consent impact` lists them and a revocation flags
them.

A consent is granted from a recording of the person reading the statement `request` printed (with its
random code): the recording is transcribed (Whisper) and compared with the statement (word error rate,
code present), and its speaker embedding (Resemblyzer) is compared with each voice reference that may
be cloned (cosine). The evidence and the figures are stored; a failed check is recorded and refused
with its figure.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from models.base import Voice
from models.registry import sha256_file
from pipeline.core.config import Settings, get_settings
from pipeline.core.errors import ConsentError, InputError
from pipeline.ledger import consents as ledger
from pipeline.ledger import statement as stmt

USES = ledger.USES
_settings_in_use: contextvars.ContextVar[Settings | None] = contextvars.ContextVar("dubline_consent", default=None)


def require_consent(
    voice: Voice, use: str, language: str, on: date, settings: Settings | None = None, project: str | None = None
) -> int | None:
    """The id of a consent that lets `voice` be used so (None for a stock voice); ConsentError otherwise.

    Calls without `settings` use those of the last call that gave them in this context (the stage's
    first check), else the process's settings."""
    if use not in USES:
        raise ConsentError(f"unknown use {use!r}", f"use one of {', '.join(USES)}")
    if voice.person_id is None:
        return None
    if settings is not None:
        _settings_in_use.set(settings)
    settings = settings or _settings_in_use.get() or get_settings()
    from pipeline.ledger import db

    with db.session(settings) as s:
        cover = ledger.covering(s, voice.person_id, use, language, on, project)
    if cover.consent is None:
        raise ConsentError(
            f"no consent lets the voice of person {voice.person_id} ({voice.engine}:{voice.id}) be used for {use} "
            f"in {language}{f' for project {project}' if project else ''} on {on.isoformat()}: "
            + "; ".join(cover.reasons),
            "record the person's consent (`dubline consent request` then `dubline consent grant`) before using "
            "their voice",
        )
    return cover.consent.id


def record_voice_output(
    settings: Settings, voice: Voice, consent_id: int | None, uri: str, model: dict[str, Any], use: str, language: str
) -> None:
    """Record a line spoken in a person's voice as an artifact made under `consent_id` (stock voices: no-op)."""
    if voice.person_id is None or consent_id is None:
        return
    from pipeline.ledger import provenance

    provenance.record_clip(settings, uri, consent_id, model, {"voice": voice.id, "use": use, "language": language})


# --- the voice captcha -----------------------------------------------------------------------------


def _store_evidence(settings: Settings, kind: str, path: Path) -> tuple[str, str]:
    from pipeline.core.stagerun import open_settings_store

    sha = sha256_file(path)
    store = open_settings_store(settings)
    key = f"consent/{kind}/{sha}{path.suffix.lower()}"
    return (store.uri(key) if store.exists(key) else store.put_file(key, path)), sha


def parse_uses(text: str) -> list[str]:
    uses = [u.strip().lower().replace("-", "_").replace(" ", "_") for u in text.split(",") if u.strip()]
    uses = ["audiobook" if u == "audiobooks" else u for u in uses]
    bad = [u for u in uses if u not in USES]
    if bad or not uses:
        raise InputError(f"unknown use {', '.join(bad) or '(none)'}", f"give one or more of {', '.join(USES)}")
    return list(dict.fromkeys(uses))


def parse_list(text: str | None) -> list[str]:
    return list(dict.fromkeys(p.strip().lower() for p in (text or "").split(",") if p.strip()))


@dataclass(frozen=True)
class Requested:
    consent_id: int
    statement: str
    code: str


def request_consent(
    settings: Settings,
    person: str,
    uses: list[str],
    languages: list[str],
    until: date | None = None,
    projects: list[str] | None = None,
    name: str | None = None,
    today: date | None = None,
) -> Requested:
    from pipeline.ledger import db

    today = today or date.today()
    if not languages:
        raise InputError("no language given", "add --languages es,fr")
    if until is not None and until < today:
        raise InputError(f"--until {until.isoformat()} is in the past", "give a date from today on")
    code = stmt.new_code()
    with db.session(settings) as s:
        p = ledger.ensure_person(s, person, name)
        text = stmt.compose(p.name, uses, languages, projects, today, until, code)
        c = ledger.request(s, p, uses, languages, projects, today, until, text, code)
        return Requested(c.id, text, code)


@dataclass(frozen=True)
class Granted:
    consent_id: int
    verification: dict[str, Any]


def verify_recording(
    settings: Settings, statement: str, code: str, recording: Path, references: list[Path], language: str = "en"
) -> tuple[dict[str, Any], list[list[float]]]:
    """Transcribe and embed. Returns (verification figures, reference embeddings). No database work."""
    from models.base import EngineError
    from models.speaker import ResemblyzerEncoder, cosine
    from pipeline.core.engines import get_asr
    from pipeline.voice.cleaning import cleaned_for_checks

    asr = get_asr(settings)
    encoder = ResemblyzerEncoder()
    try:
        with cleaned_for_checks(settings, [recording, *references]) as (clean, denoised):
            heard = " ".join(seg.text for seg in asr.transcribe(clean[0], language=language).segments).strip()
            rec_emb = encoder.embed(clean[0])
            ref_embs = [encoder.embed(r) for r in clean[1:]]
    except EngineError as e:
        raise InputError(str(e), "give a recording of clear speech") from None
    words = stmt.check_words(statement, code, heard, settings.consent_max_wer)
    cosines = [round(cosine(rec_emb, e), 4) for e in ref_embs]
    voice_ok = bool(cosines) and min(cosines) >= settings.consent_min_cosine
    figures = {
        "words": {**words.as_dict(), "max_wer": settings.consent_max_wer},
        "voice": {
            "cosines": cosines,
            "cosine_min": min(cosines) if cosines else None,
            "min_cosine": settings.consent_min_cosine,
            "passed": voice_ok,
        },
        "models": {"asr": asr.info.as_dict(), "speaker": encoder.info.as_dict()},
        "passed": words.passed and voice_ok,
    }
    if denoised:  # the checks heard cleaned copies: what the denoiser did to each file, before and after
        figures["denoise"] = denoised
    return figures, [[float(x) for x in e] for e in ref_embs]


def refusal(figures: dict[str, Any]) -> str | None:
    """Which check failed, with its figure; None when both passed."""
    w, v = figures["words"], figures["voice"]
    fails = []
    if not w["code_heard"]:
        fails.append("words: the code was not heard in the recording")
    if w["wer"] > w["max_wer"]:
        fails.append(f"words: word error rate {w['wer']:.2f} is above {w['max_wer']:.2f}")
    if not v["passed"]:
        fails.append(
            f"voice: speaker cosine {v['cosine_min']:.2f} to the references is below {v['min_cosine']:.2f}"
            if v["cosine_min"] is not None
            else "voice: no voice reference given"
        )
    return "; ".join(fails) or None


def grant_consent(
    settings: Settings,
    person: str,
    recording: Path,
    references: list[Path],
    request_id: int | None = None,
    supplied_by: str | None = None,
    today: date | None = None,
) -> Granted:
    """Check the recording against the open request and the references; record the grant or the refusal."""
    from pipeline.ledger import audit, db

    today = today or date.today()
    for p in [recording, *references]:
        if not Path(p).is_file():
            raise InputError(f"{p} does not exist", "give the path of an audio file")
    if not references:
        raise InputError("no voice reference given", "add --reference FILE (the recordings to be cloned)")
    with db.session(settings) as s:
        c = ledger.pending(s, person, request_id)
        cid, text, code, asked = c.id, c.statement, c.code, c.valid_from
    if today > asked + timedelta(days=settings.consent_request_days - 1):
        raise ConsentError(
            f"consent request {cid} was made on {asked.isoformat()}; its statement names that date",
            "run `dubline consent request` again and record the new statement",
        )
    figures, ref_embs = verify_recording(settings, text, code, Path(recording), [Path(r) for r in references])
    rec_uri, rec_sha = _store_evidence(settings, "recordings", Path(recording))
    figures["recording"] = {"uri": rec_uri, "sha256": rec_sha}
    why = refusal(figures)
    with db.session(settings) as s:
        c = ledger.pending(s, person, cid)
        if why is not None:
            ledger.record_refusal(s, c, why, figures)
        else:
            who = ledger.get_person(s, person)
            refs = []
            for ref_path, emb in zip(references, ref_embs, strict=True):
                uri, sha = _store_evidence(settings, "references", Path(ref_path))
                model = figures["models"]["speaker"]
                refs.append(ledger.add_reference(s, who, uri, sha, emb, model, supplied_by or audit.actor()))
            ledger.record_grant(s, c, rec_uri, rec_sha, figures, refs)
    if why is not None:
        raise ConsentError(f"consent request {cid} for person {person} refused: {why}", "record the statement again")
    return Granted(cid, figures)


def revoke_consent(
    settings: Settings, person: str, reason: str, consent_id: int | None = None
) -> list[tuple[int, int]]:
    """Revoke one consent (or every active one of the person). Returns [(consent id, artifacts flagged)]."""
    from sqlalchemy import select

    from pipeline.ledger import db
    from pipeline.ledger.tables import Consent

    with db.session(settings) as s:
        ledger.get_person(s, person)
        q = select(Consent).where(Consent.person_id == person, Consent.status.in_(["granted", "requested", "expired"]))
        if consent_id is not None:
            q = q.where(Consent.id == consent_id)
        found = list(s.scalars(q.with_for_update()))
        if not found:
            raise InputError(
                f"person {person} has no {'consent ' + str(consent_id) if consent_id else 'consent'} to revoke",
                "see `dubline consent list`",
            )
        return [(c.id, ledger.revoke(s, c, reason)) for c in found]
