"""Casting: which voice speaks each diarized speaker, in each target language, and why.

Three sources, in order:
1. **person**: the speaker was matched to an enrolled person (by speaker embedding against the references
   their voice profile was built from, or named by the operator) and that person has an active profile for
   the language: the cloned voice. Consent is still checked by the synthesis stage, line by line.
2. **series**: the job belongs to a series and this speaker already has a voice there (matched by
   embedding against the speakers stored for the series): the same voice as in the earlier episodes.
3. **suited**: a stock voice chosen for the speaker: the voice's presentation (low/high pitch) matching
   the speaker's F0, engines in the language's preference order, and a voice no other speaker of the job
   (or of the series) has. When speakers outnumber the voices, a voice is reused at a shifted pitch.

The pure part (`assign`) takes plain inputs and is unit-tested; `cast_language` reads the ledger, assigns,
and stores new series voices.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from models.base import TTS, EngineUnavailable, Prosody, Voice
from models.files import atomic_path
from models.speaker import cosine
from pipeline.core.config import Settings
from pipeline.core.script import Script, SpeakerInfo, VoiceChoice

# Presentation of the built-in engines' voices: Pico's voices are all female; Piper's joe is male; eSpeak NG
# takes a variant suffix (+m3 a lower male, +f3 a female variant). Kokoro lists its own (voice_catalogue).
PITCH_STEPS = (1.0, 0.9, 1.1, 0.84, 1.16)  # a reused voice is shifted to tell its speakers apart
LOW, HIGH, UNKNOWN = "low", "high", "unknown"
# A speaker's presentation from their median F0 only where it is clear: lecturing and emphatic men speak
# well above 165 Hz (measured: JFK's inaugural excerpt 224 Hz, the lecture fixture 179 Hz), so between these
# two the voice's likeness (speaker embedding) decides alone.
LOW_BELOW_HZ = 145.0
HIGH_FROM_HZ = 240.0
RANK_PENALTY = 0.1  # cosine a voice gives up per place down the engine preference (quality before likeness)


@dataclass(frozen=True)
class StockVoice:
    engine: str
    voice_id: str
    presentation: str  # low | high | unknown
    rank: int  # the engine's place in the language's preference order (0 = first)
    embedding: tuple[float, ...] | None = None  # the voice's speaker embedding (its baseline sentence)


@dataclass
class SeriesEntry:
    speaker_key: str
    engine: str
    voice_id: str
    pitch: float
    person_id: str | None
    embedding: list[float] | None


@dataclass
class Casting:
    voices: dict[str, VoiceChoice]
    new_series: list[tuple[str, VoiceChoice, list[float] | None]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def voice_cache(settings: Settings) -> Path:
    """Measurements of stock voices (embeddings, natural delivery): they depend only on the installed engines,
    so they live beside the models and every job and project on the machine shares them."""
    return settings.model_dir / "voice-cache"


def voice_embedding(settings: Settings, tts: TTS, voice: Voice, language: str) -> np.ndarray | None:
    """The speaker embedding of a voice speaking its baseline sentence, cached on disk; None when the voice
    cannot be measured (the casting then goes by presentation and preference alone)."""
    from models.speaker import ResemblyzerEncoder
    from pipeline.core.stagerun import digest
    from pipeline.speech.prosody import BASELINE_SENTENCES

    cache = voice_cache(settings)
    key = digest({"info": tts.info.as_dict(), "voice": voice.id, "language": language})[:24]
    path = cache / f"embedding-{key}.npy"
    if path.is_file():
        return np.asarray(np.load(path), dtype=np.float64)
    cache.mkdir(parents=True, exist_ok=True)
    wav = cache / f"embedding-{key}.{id(voice)}.wav"
    try:
        tts.synthesize(BASELINE_SENTENCES.get(language, BASELINE_SENTENCES["en"]), voice, wav, Prosody())
        emb = np.asarray(ResemblyzerEncoder().embed(wav), dtype=np.float64)
    except Exception:  # noqa: BLE001 - a refinement: never the reason a job fails
        return None
    finally:
        wav.unlink(missing_ok=True)
    with atomic_path(path, suffix=".npy") as tmp:
        np.save(tmp, emb)
    return emb


def presentation_of(f0_hz: float | None) -> str:
    if not f0_hz:
        return UNKNOWN
    if f0_hz < LOW_BELOW_HZ:
        return LOW
    return HIGH if f0_hz >= HIGH_FROM_HZ else UNKNOWN


def _kokoro_presentation(p: str) -> str:
    return {"female": HIGH, "male": LOW}.get(p, UNKNOWN)


def engine_voices(engine: TTS, language: str, rank: int) -> list[StockVoice]:
    """The stock voices one engine has for a language (empty when it does not speak it)."""
    try:
        base = engine.voice_for(language)
    except EngineUnavailable:
        return []
    name = engine.name
    if name == "kokoro":
        from models.kokoro import voice_catalogue

        return [StockVoice(name, v["id"], _kokoro_presentation(v["presentation"]), rank) for v in voice_catalogue()]
    if name == "espeak":
        return [StockVoice(name, f"{base.id}+m3", LOW, rank), StockVoice(name, f"{base.id}+f3", HIGH, rank)]
    if name == "pico":
        return [StockVoice(name, base.id, HIGH, rank)]
    if name == "piper":
        return [StockVoice(name, base.id, LOW, rank)]
    return [StockVoice(name, base.id, UNKNOWN, rank)]


def stock_catalogue(engines: Sequence[TTS], order: Sequence[str], language: str) -> list[StockVoice]:
    by_name = {e.name: e for e in engines}
    out: list[StockVoice] = []
    for rank, name in enumerate(order):
        if name in by_name:
            out.extend(engine_voices(by_name[name], language, rank))
    return out


def _by_weight(info: dict[str, SpeakerInfo], speakers: Sequence[str]) -> list[str]:
    """Speakers who speak most choose first (the main voice gets the best-suited stock voice)."""
    return sorted(speakers, key=lambda s: (-(info[s].seconds if s in info else 0.0), s))


def assign(
    speakers: Sequence[str],
    info: dict[str, SpeakerInfo],
    language: str,
    catalogue: Sequence[StockVoice],
    *,
    profiles: dict[str, tuple[str, str, str]] | None = None,
    series: Sequence[SeriesEntry] = (),
    series_min_cosine: float = 0.75,
    single_voice: bool = False,
) -> Casting:
    """Choose a voice for each speaker (pure: the ledger's content comes in as arguments).

    profiles: person_id -> (backend, profile_uri, profile.json sha256) of the active profiles for the language."""
    if not catalogue:
        raise EngineUnavailable(f"no stock voice speaks '{language}'")
    profiles = profiles or {}
    out = Casting(voices={})
    used: set[tuple[str, str, float]] = set()
    series_used = {(e.engine, e.voice_id, round(e.pitch, 3)) for e in series}
    claimed_keys: set[str] = set()
    next_key = 1 + max((int(e.speaker_key[1:]) for e in series if e.speaker_key[1:].isdigit()), default=0)
    for spk in _by_weight(info, speakers):
        si = info.get(spk) or SpeakerInfo(id=spk)
        if si.person_id and si.person_id in profiles:
            backend, uri, sha = profiles[si.person_id]
            out.voices[spk] = VoiceChoice(
                engine=f"clone:{backend}",
                voice_id=f"profile:{sha[:12]}",
                language=language,
                person_id=si.person_id,
                profile_uri=uri,
                profile_sha256=sha,
                reason="person"
                + (" (named)" if si.confirmed else f" (cosine {si.match_cosine:.2f})" if si.match_cosine else ""),
            )
            continue
        if si.person_id:
            out.warnings.append(
                f"speaker {spk} sounds like {si.person_id}, who has no active voice profile for {language}: "
                "a stock voice speaks instead"
            )
        if single_voice:
            top = catalogue[0]
            out.voices[spk] = VoiceChoice(engine=top.engine, voice_id=top.voice_id, language=language, reason="single")
            continue
        # the same speaker in an earlier episode of the series
        if series and si.embedding:
            best, best_cos = None, -1.0
            for e in series:
                if e.speaker_key in claimed_keys or not e.embedding or e.person_id:
                    continue
                c = cosine(e.embedding, si.embedding)
                if c > best_cos:
                    best, best_cos = e, c
            if best is not None and best_cos >= series_min_cosine:
                claimed_keys.add(best.speaker_key)
                used.add((best.engine, best.voice_id, round(best.pitch, 3)))
                out.voices[spk] = VoiceChoice(
                    engine=best.engine,
                    voice_id=best.voice_id,
                    language=language,
                    pitch=best.pitch,
                    reason=f"series (cosine {best_cos:.2f})",
                    series_key=best.speaker_key,
                )
                continue
        want = si.presentation if si.presentation in (LOW, HIGH) else presentation_of(si.f0_median_hz)

        def score(
            v: StockVoice, pitch: float, want: str = want, si: SpeakerInfo = si
        ) -> tuple[int, int, int, int, float, float]:
            """Lower is better: free, of the speaker's presentation, a voice as it is (a different voice before
            a pitch-shifted copy), not another series speaker's, then the most like the speaker (cosine of
            speaker embeddings) with a small preference for the engines the language prefers."""
            mismatch = 1 if want != UNKNOWN and v.presentation not in (want, UNKNOWN) else 0
            taken = 1 if (v.engine, v.voice_id, round(pitch, 3)) in used else 0
            in_series = 1 if (v.engine, v.voice_id, round(pitch, 3)) in series_used else 0
            likeness = cosine(list(v.embedding), si.embedding) if v.embedding and si.embedding else 0.0
            return (
                taken,
                mismatch,
                1 if pitch != 1.0 else 0,
                in_series,
                round(RANK_PENALTY * v.rank - likeness, 6),
                abs(pitch - 1.0),
            )

        options = [(v, p) for v in catalogue for p in PITCH_STEPS]
        voice, pitch = min(options, key=lambda o: score(*o))
        used.add((voice.engine, voice.voice_id, round(pitch, 3)))
        key = f"V{next_key}"  # the speaker's key in the series map (cast_language drops it without a series)
        next_key += 1
        choice = VoiceChoice(
            engine=voice.engine,
            voice_id=voice.voice_id,
            language=language,
            pitch=pitch,
            reason=f"suited ({want} voice)" if want != UNKNOWN else "suited",
            series_key=key,
        )
        out.voices[spk] = choice
        out.new_series.append((spk, choice, si.embedding))
    return out


def speakers_of(script: Script) -> list[str]:
    seen: list[str] = []
    for s in script.segments:
        if s.speaker not in seen:
            seen.append(s.speaker)
    return seen or ["S1"]


def cast_language(settings: Settings, script: Script, language: str, series: str | None = None) -> Casting:
    """Voices for every speaker of `script` in `language`, from the ledger's profiles and series map; new
    series voices are stored (the first episode's choice stands for the later ones)."""
    from pipeline.core.engines import get_tts_engines
    from pipeline.ledger import db
    from pipeline.ledger import voices as ledger

    engines = get_tts_engines(settings)
    catalogue = stock_catalogue(engines, settings.tts_order(language), language)
    if any(si.embedding for si in script.speaker_info.values()) and settings.stock_voices:
        by_name = {e.name: e for e in engines}
        catalogue = [
            replace(v, embedding=tuple(float(x) for x in emb))
            if (emb := voice_embedding(settings, by_name[v.engine], Voice(v.engine, v.voice_id, language), language))
            is not None
            else v
            for v in catalogue
        ]
    if not catalogue:
        from pipeline.core.errors import ConfigError

        raise ConfigError(
            f"no installed voice speaks '{language}'",
            "install a voice for that language or change DUBLINE_TTS_PREFERENCE",
        )
    stand_in = settings.person_voices.get(language)
    if stand_in:  # DUBLINE_PERSON_VOICES: a stock voice declared as a person's own (consent applies)
        top = catalogue[0]
        return Casting(
            voices={
                spk: VoiceChoice(
                    engine=top.engine,
                    voice_id=top.voice_id,
                    language=language,
                    person_id=stand_in,
                    reason="person (DUBLINE_PERSON_VOICES)",
                )
                for spk in speakers_of(script)
            }
        )
    people = {si.person_id for si in script.speaker_info.values() if si.person_id}
    with db.session(settings) as s:
        profiles: dict[str, tuple[str, str, str]] = {}
        for person in sorted(people):
            p = ledger.active_profile(s, person, language)
            if p is not None:
                profiles[person] = (p.backend, p.uri, p.sha256)
        entries = (
            [
                SeriesEntry(e.speaker_key, e.engine, e.voice_id, e.pitch, e.person_id, e.embedding)
                for e in ledger.series_map(s, series, language)
            ]
            if series
            else []
        )
    casting = assign(
        speakers_of(script),
        script.speaker_info,
        language,
        catalogue,
        profiles=profiles,
        series=entries,
        series_min_cosine=settings.voice_match_min_cosine - 0.05,
        single_voice=not settings.stock_voices,
    )
    if series and casting.new_series:
        with db.session(settings) as s:
            for _spk, choice, spk_emb in casting.new_series:
                assert choice.series_key is not None
                row, _created = ledger.remember_series_voice(
                    s, series, choice.series_key, language, choice.engine, choice.voice_id, choice.pitch, None, spk_emb
                )
                choice.engine, choice.voice_id, choice.pitch = row.engine, row.voice_id, row.pitch
            s.commit()
    if not series:
        for choice in casting.voices.values():
            choice.series_key = None
    return casting


def match_people(
    info: dict[str, SpeakerInfo],
    enrolled: Sequence[tuple[str, Sequence[float]]],
    min_cosine: float,
    named: dict[str, str] | None = None,
) -> list[str]:
    """Set person_id/match_cosine/confirmed on each speaker: the operator's naming (confirmed) first, else the
    closest enrolled person at or above min_cosine. A person is given to one speaker at most. Returns notes."""
    named = named or {}
    notes: list[str] = []
    centroids = {p: list(c) for p, c in enrolled}
    taken = set(named.values())
    for spk, person in named.items():
        si = info.setdefault(spk, SpeakerInfo(id=spk))
        si.person_id, si.confirmed = person, True
        if person in centroids and si.embedding:
            si.match_cosine = round(cosine(si.embedding, centroids[person]), 4)
        notes.append(f"{spk} = {person} (named by the operator)")
    pairs: list[tuple[float, str, str]] = []
    for spk, si in info.items():
        if spk in named or not si.embedding:
            continue
        for person, centre in centroids.items():
            if person not in taken:
                pairs.append((cosine(si.embedding, centre), spk, person))
    done: set[str] = set()
    for c, spk, person in sorted(pairs, reverse=True):
        if c < min_cosine or spk in done or person in taken:
            continue
        si = info[spk]
        si.person_id, si.match_cosine, si.confirmed = person, round(c, 4), False
        done.add(spk)
        taken.add(person)
        notes.append(f"{spk} sounds like {person} (cosine {c:.2f})")
    return notes


def summary(voices: dict[str, VoiceChoice]) -> list[dict[str, Any]]:
    return [
        {
            "speaker": spk,
            "engine": v.engine,
            "voice": v.voice_id,
            "pitch": v.pitch,
            "person": v.person_id,
            "reason": v.reason,
            **({"series_key": v.series_key} if v.series_key else {}),
        }
        for spk, v in sorted(voices.items())
    ]
