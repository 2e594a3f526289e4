"""Speaking a line in a voice, shared by every product: the stock engine of a name, a person's cloned voice
(its profile folder checked against the ledger), and `synth_clip`, one line synthesized and stored
content-addressed (text, engine, voice, delivery), so a re-run speaks only what changed.

The consent gate is not here: a caller checks `pipeline.voice.consent.require_consent` before every call that
speaks in a person's voice."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from models.base import TTS, Prosody, Voice
from pipeline.audio.media import wav_duration
from pipeline.core.config import Settings
from pipeline.core.engines import get_tts_engines
from pipeline.core.errors import ConfigError, StageError
from pipeline.core.script import VoiceChoice
from pipeline.core.stagerun import digest
from pipeline.core.storage import ObjectStore


def profile_tts(settings: Settings, choice: VoiceChoice) -> TTS:
    """The TTS of a person's cloned voice: the profile folder (its profile.json checked against the sha256 the
    ledger recorded), loaded by the backend that built it."""
    assert choice.profile_uri and choice.profile_sha256 and choice.person_id
    from pipeline.voice.enroll import make_cloner, profile_folder

    folder = profile_folder(settings, choice.profile_uri, choice.profile_sha256)
    backend = str(json.loads((folder / "profile.json").read_text()).get("backend") or choice.engine.split(":", 1)[-1])
    return make_cloner(settings, backend).load(folder, choice.person_id)


def stock_tts(settings: Settings, name: str) -> TTS:
    for e in get_tts_engines(settings):
        if e.name == name:
            return e
    raise ConfigError(f"the voice engine {name!r} is not installed here", "run `make setup` or change the casting")


def clip_key(tts: TTS, voice: Voice, text: str, prosody: Prosody) -> str:
    """The store key of the clip of `text` in this voice and delivery (what `synth_clip` makes or reuses)."""
    controls = {k: round(v, 3) for k, v in dataclasses.asdict(prosody).items()}
    doc: dict[str, Any] = {"text": text, "engine": tts.info.as_dict(), "voice": voice.id, "rate": controls["rate"]}
    if any(controls[k] != 1.0 for k in ("pitch", "volume", "pitch_range")):
        doc["prosody"] = controls
    return "clips/" + digest(doc)[:32] + ".wav"


def synth_clip(
    store: ObjectStore, tts: TTS, voice: Voice, text: str, prosody: Prosody | float, scratch: Path
) -> tuple[str, float, Path]:
    """Synthesize one line (or reuse the identical clip from an earlier run). Returns (uri, seconds, local path).

    `prosody` may be a bare rate (the engine's other controls at 1)."""
    p = prosody if isinstance(prosody, Prosody) else Prosody(rate=prosody)
    wav_key = clip_key(tts, voice, text, p)
    key = wav_key.removesuffix(".wav")
    if store.exists(wav_key):
        local = store.local_path(wav_key, scratch / "clips")
        return store.uri(wav_key), wav_duration(local), local
    out = scratch / f"{Path(key).name}.wav"
    try:
        tts.synthesize(text, voice, out, p)
        from models.worldfx import apply_prosody_post

        apply_prosody_post(tts.name, out, p)
    except Exception as e:  # engine errors carry their own message
        raise StageError(f"{tts.name} could not speak {text[:60]!r}: {e}") from e
    return store.put_file(wav_key, out), wav_duration(out), out
