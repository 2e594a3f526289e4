"""enroll: build a person's voice profile (a cloned voice) from consented reference speech.

Three steps, each a task of the `enroll_voice` DAG and together `enroll()`:

1. `check`: consent FIRST (a granted, unrevoked consent of this person covering the use, the language and
   today; else ConsentError and nothing is built); then the references: each exists and decodes, they hold
   at least `clone_min_reference_s` seconds of speech in all, and each sounds like the person's consented
   voice (Resemblyzer cosine to the centroid of the references the consent recorded, at least
   `consent_min_cosine`), so that nobody enrols someone else's voice under a consent. The references are
   stored, content-addressed, beside the consent evidence.
2. `build`: the cloning backend (`clone_backend`, pluggable: models.cloning.backends.make_cloner) searches for the
   voice within `clone_budget_s` seconds, as a content-addressed stage: the same references, backend,
   budget and language reuse the recorded profile with no second search. The profile folder is published
   into the store with profile.json last, then the stage's result.json.
3. `record`: consent is checked again (a revocation during the search stops the enrolment); the references
   and the profile are recorded in the ledger with audit rows; the result is the profile's id, URI and figures.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from models.base import EngineError, EngineUnavailable, Voice, VoiceCloner
from pipeline.core import progress
from pipeline.core.config import Settings
from pipeline.core.errors import ConfigError, ConsentError, InputError, SetupError, StageError
from pipeline.core.langs import normalize_language
from pipeline.core.stagerun import StageRun, open_settings_store, run_stage
from pipeline.voice.contracts import EnrollBuilt, EnrollChecked, Enrolled, Reference

STAGE = "enroll"
FIGURES = ("held_out_similarity", "wer", "seconds")
# recorded too where the backend gives them: the second judge's (CAM++) figures, the stock voice's, and the
# "auto" backend's candidates and why it chose
MORE_FIGURES = (
    "held_out_similarity_campp",
    "best_stock_held_out_similarity",
    "best_stock_held_out_similarity_campp",
    "candidates",
    "chosen_by",
)


@dataclass(frozen=True)
class Heard:
    """What a reference recording holds: seconds of speech and the speaker embedding of that speech."""

    speech_s: float
    embedding: list[float]
    denoise: dict[str, Any] | None = None  # the embedding is of a denoised copy: what the denoiser did


def measure_reference(path: Path, settings: Settings | None = None) -> Heard:
    """Speech seconds (Resemblyzer's voice-activity trimming) and the Resemblyzer embedding of a recording.
    With `settings` whose `consent_denoise` is on, the embedding is of a denoised copy (as the consent's own
    references were embedded) and `denoise` says what was done; the speech seconds are the recording's own.
    EngineError when it cannot be decoded or holds too little speech to embed."""
    from models.speaker import SAMPLE_RATE, ResemblyzerEncoder, decode_audio

    samples = decode_audio(path)
    try:
        import warnings

        with warnings.catch_warnings():  # webrtcvad imports pkg_resources, which warns
            warnings.simplefilter("ignore")
            from resemblyzer import preprocess_wav
    except ImportError as e:
        raise EngineUnavailable(f"resemblyzer could not be imported ({e}); run `make setup`") from e
    speech_s = len(preprocess_wav(samples, source_sr=SAMPLE_RATE)) / SAMPLE_RATE
    if speech_s < 1.0:
        return Heard(round(speech_s, 2), [])
    if settings is None or not settings.consent_denoise:
        return Heard(round(speech_s, 2), [float(x) for x in ResemblyzerEncoder().embed(path)])
    from pipeline.voice.cleaning import cleaned_for_checks

    with cleaned_for_checks(settings, [path]) as (clean, figures):
        embedding = [float(x) for x in ResemblyzerEncoder().embed(clean[0])]
    return Heard(round(speech_s, 2), embedding, figures[0] if figures else None)


def speaker_model() -> dict[str, str]:
    """The speaker-embedding model measure_reference uses (recorded with each reference)."""
    from models.speaker import ResemblyzerEncoder

    return ResemblyzerEncoder().info.as_dict()


def make_cloner(settings: Settings, backend: str) -> VoiceCloner:
    """The cloning backend named `backend` (kokoro-search, world-match, or an operator's module:Class)."""
    try:
        from models.cloning.backends import BACKENDS
        from models.cloning.backends import make_cloner as factory
    except ImportError as e:
        raise SetupError(f"voice cloning is not available ({e})", "install dubline with its cloning backends") from e
    if backend not in BACKENDS and ":" not in backend:
        raise ConfigError(
            f"unknown cloning backend {backend!r}",
            f"use one of {', '.join(BACKENDS)} or package.module:Class (--backend or DUBLINE_CLONE_BACKEND)",
        )
    try:
        return factory(backend, settings.model_dir)
    except EngineUnavailable as e:
        raise SetupError(f"cloning backend {backend!r} cannot run here: {e}", "run `make setup`") from e


def _store_reference(settings: Settings, path: Path, sha: str) -> str:
    store = open_settings_store(settings)
    key = f"consent/references/{sha}{path.suffix.lower()}"
    return store.uri(key) if store.exists(key) else store.put_file(key, path)


def _consented_embeddings(settings: Settings, person_id: str, consent_id: int) -> list[list[float]]:
    """The embeddings of the references the consent recorded (else of all the person's references)."""
    from sqlalchemy import select

    from pipeline.ledger import consents as ledger
    from pipeline.ledger import db
    from pipeline.ledger.tables import VoiceReference

    with db.session(settings) as s:
        refs = ledger.references(s, consent_id) or list(
            s.scalars(select(VoiceReference).where(VoiceReference.person_id == person_id))
        )
        return [list(r.embedding) for r in refs if r.embedding]


def check(
    settings: Settings,
    person_id: str,
    references: list[str],
    language: str,
    use: str = "dubbing",
    backend: str | None = None,
    today: date | None = None,
) -> EnrollChecked:
    """Consent first, then the references (see the module's notes). Returns what `build` and `record` need."""
    from models.registry import sha256_file
    from models.speaker import cosine
    from pipeline.core.inputs import resolve_input
    from pipeline.ledger.voices import centroid
    from pipeline.voice.consent import require_consent

    language = normalize_language(language)
    backend = (backend or settings.clone_backend).strip()
    if not person_id.strip():
        raise InputError("no person given", "name the person whose voice to enrol")
    if not language:
        raise InputError("no language given", "add --language es (the language the voice will speak)")
    on = today or date.today()
    consent_id = require_consent(Voice("clone", backend, language, person_id), use, language, on, settings)
    assert consent_id is not None
    if not references:
        raise InputError("no reference recording given", "give one or more recordings of the person speaking")
    make_cloner(settings, backend)  # an unknown or unusable backend fails here, before any work

    scratch = settings.data_dir / "work" / "inputs"
    scratch.mkdir(parents=True, exist_ok=True)
    found: list[tuple[str, Path, Heard]] = []
    for ref in references:
        path = resolve_input(ref, scratch, settings)
        if not path.is_file():
            raise InputError(f"reference {ref} does not exist", "give the path of a recording of the person speaking")
        try:
            heard = measure_reference(path, settings)
        except EngineUnavailable as e:
            raise SetupError(str(e), "run `make setup`") from e
        except EngineError as e:
            raise InputError(
                f"reference {ref} could not be read as audio: {e}", "give a WAV, FLAC or MP3 of the person speaking"
            ) from e
        found.append((ref, path, heard))

    total = sum(h.speech_s for _, _, h in found)
    if total < settings.clone_min_reference_s:
        each = ", ".join(f"{Path(r).name} {h.speech_s:.1f} s" for r, _, h in found)
        raise InputError(
            f"the references hold {total:.1f} s of speech ({each}); enrolling a voice needs at least "
            f"{settings.clone_min_reference_s:.0f} s",
            "add more or longer recordings of the person speaking",
        )
    consented = _consented_embeddings(settings, person_id, consent_id)
    if not consented:
        raise ConsentError(
            f"consent {consent_id} of person {person_id} records no voice reference to compare the recordings with",
            "grant the consent with the person's voice references (`dubline consent grant --reference ...`)",
        )
    voice = centroid(consented)
    refs: list[Reference] = []
    for ref, path, heard in found:
        if not heard.embedding:
            raise InputError(
                f"reference {ref} holds {heard.speech_s:.1f} s of speech, too little to tell whose voice it is",
                "give recordings with at least a few seconds of speech each",
            )
        cos = round(cosine(heard.embedding, voice), 4)
        if cos < settings.consent_min_cosine:
            raise ConsentError(
                f"reference {ref} does not sound like the consented voice of person {person_id}: speaker cosine "
                f"{cos:.2f} to the references of consent {consent_id}, below {settings.consent_min_cosine:.2f}",
                "enrol only recordings of the person who gave the consent",
            )
        sha = sha256_file(path)
        refs.append(
            Reference(
                name=Path(ref).name,
                uri=_store_reference(settings, path, sha),
                sha256=sha,
                speech_s=heard.speech_s,
                cosine=cos,
                embedding=heard.embedding,
                denoise=heard.denoise,
            )
        )
    return EnrollChecked(
        person=person_id,
        language=language,
        use=use,
        backend=backend,
        consent_id=consent_id,
        speech_s=round(total, 2),
        references=refs,
        speaker_model=speaker_model(),
    )


def _progress(run: StageRun) -> Callable[[str, float], None]:
    def report(label: str, fraction: float) -> None:
        run.step(int(round(max(0.0, min(1.0, fraction)) * 100)), 100, label)

    return report


def build(settings: Settings, checked: EnrollChecked, budget_s: float | None = None) -> EnrollBuilt:
    """Run the cloning backend on the checked references (once per distinct references, backend, budget
    and language); publish the profile folder. Returns its URI, profile.json's sha256 and the figures."""
    from models.registry import sha256_file

    backend, language = checked.backend, checked.language
    budget = float(budget_s if budget_s is not None else settings.clone_budget_s)
    if budget <= 0:
        raise InputError(f"budget {budget:g} s is not positive", "give --budget in seconds, e.g. 300")
    cloner = make_cloner(settings, backend)
    material = {
        "person": checked.person,
        "language": language,
        "backend": backend,
        "cloner": cloner.info.as_dict(),
        "budget_s": budget,
        "references": [r.sha256 for r in checked.references],
    }

    def work(run: StageRun) -> EnrollBuilt:
        paths = [run.fetch(r.uri) for r in checked.references]
        out = run.scratch / "profile"
        out.mkdir()
        try:
            doc = cloner.enroll(paths, out, language, budget_s=budget, progress=_progress(run))
        except EngineUnavailable as e:
            raise SetupError(f"cloning backend {backend} cannot run here: {e}", "run `make setup`") from e
        except EngineError as e:
            raise StageError(f"cloning backend {backend} could not build the voice: {e}") from e
        missing = [k for k in ("backend", *FIGURES) if k not in doc]
        if missing:
            raise StageError(f"cloning backend {backend} gave a profile without {', '.join(missing)}")
        profile_json = out / "profile.json"
        if not profile_json.is_file():
            profile_json.write_text(json.dumps(doc, indent=1, sort_keys=True, default=str))
        files = sorted(p for p in out.rglob("*") if p.is_file() and p != profile_json and not p.name.startswith("."))
        for f in files:  # the backend's files first, profile.json last: a profile.json present means complete
            run.put(f"profile/{f.relative_to(out).as_posix()}", f)
        run.put("profile/profile.json", profile_json)
        langs = doc.get("languages") or [language]
        return EnrollBuilt(
            profile_uri=run.store.uri(f"{run.prefix}/profile"),
            profile_json_uri=run.store.uri(f"{run.prefix}/profile/profile.json"),
            sha256=sha256_file(profile_json),
            backend=str(doc["backend"]),
            languages=[str(x) for x in (langs if isinstance(langs, list) else [langs])],
            figures={k: doc[k] for k in (*FIGURES, *MORE_FIGURES) if k in doc},
            files=[f.relative_to(out).as_posix() for f in files] + ["profile.json"],
            budget_s=budget,
        )

    return run_stage(settings, STAGE, material, work, EnrollBuilt, label=checked.person)


def record(settings: Settings, checked: EnrollChecked, built: EnrollBuilt, today: date | None = None) -> Enrolled:
    """Check consent again, then record the references and the profile (audit rows in the same transaction).
    The same enrolment recorded twice gives the same profile (created False)."""
    from pipeline.ledger import audit, db, voices
    from pipeline.ledger import consents as ledger
    from pipeline.voice.consent import require_consent

    person, language, use = checked.person, checked.language, checked.use
    on = today or date.today()
    consent_id = require_consent(Voice("clone", checked.backend, language, person), use, language, on, settings)
    assert consent_id is not None
    with db.session(settings) as s:
        who = ledger.get_person(s, person)
        ids = [
            ledger.add_reference(s, who, r.uri, r.sha256, r.embedding, dict(checked.speaker_model), audit.actor()).id
            for r in checked.references
        ]
        profile, created = voices.add_profile(
            s,
            person,
            built.backend,
            list(built.languages),
            built.profile_uri,
            built.sha256,
            dict(built.figures),
            ids,
            consent_id,
        )
        result = Enrolled(
            profile_id=profile.id,
            person=person,
            language=language,
            use=use,
            backend=profile.backend,
            languages=list(profile.languages),
            uri=profile.uri,
            sha256=profile.sha256,
            figures=dict(profile.figures),
            consent_id=consent_id,
            reference_ids=ids,
            speech_s=checked.speech_s,
            created=created,
            searched=not built.cached,
        )
    # The runner takes a DAG run's outputs from the "publish" stage's done event (as dub_video's publish).
    progress.emit("publish", "done", **result.model_dump())
    return result


def profile_folder(settings: Settings, uri: str, sha256: str, cache_dir: Path | None = None) -> Path:
    """A local folder with the profile published at `uri` (a VoiceProfile's uri), for VoiceCloner.load:
    the store's own folder for a local store, else downloaded into cache_dir (default <data>/work/profiles).
    Its profile.json must have the sha256 the ledger recorded (StageError when missing or changed)."""
    from models.registry import sha256_file
    from pipeline.core.storage import key_of

    store = open_settings_store(settings)
    prefix = key_of(store, uri).rstrip("/")
    keys = store.list(prefix)
    if f"{prefix}/profile.json" not in keys:
        raise StageError(f"voice profile {uri} is missing from the store (no profile.json)")
    cache = cache_dir or settings.data_dir / "work" / "profiles"
    for key in keys:
        if key != f"{prefix}/profile.json":
            store.local_path(key, cache)
    profile_json = store.local_path(f"{prefix}/profile.json", cache)
    found = sha256_file(profile_json)
    if found != sha256:
        raise StageError(
            f"voice profile {uri} was changed: its profile.json has sha256 {found}, the ledger recorded {sha256}"
        )
    return profile_json.parent


def enroll(
    settings: Settings,
    person_id: str,
    references: list[str],
    language: str,
    use: str = "dubbing",
    backend: str | None = None,
    budget_s: float | None = None,
    today: date | None = None,
) -> Enrolled:
    """Enrol a person's voice: check (consent first, then the references), build, record. Returns the
    profile's id, URI, figures and whether it was new (see `record`)."""
    checked = check(settings, person_id, references, language, use, backend, today)
    built = build(settings, checked, budget_s)
    return record(settings, checked, built, today)
