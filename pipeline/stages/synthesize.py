"""synthesize: speak every translated line with the voice chosen for the language.

Clips are content-addressed (text, engine, voice, rate), so a re-run re-synthesizes only lines whose
text changed. The consent gate runs here, before the first line, and again for every line.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from models.base import TTS, Prosody, Voice
from pipeline.config import Settings
from pipeline.consent import require_consent
from pipeline.engines import choose_tts
from pipeline.errors import StageError
from pipeline.jobs import StageRun, digest, run_stage
from pipeline.media import wav_duration
from pipeline.script import Clip
from pipeline.stages.common import load_script, save_script
from pipeline.storage import ObjectStore


def synth_clip(store: ObjectStore, tts: TTS, voice: Voice, text: str, rate: float, scratch: Path) -> tuple[str, float]:
    """Synthesize one line (or reuse the identical clip from an earlier run). Returns (uri, seconds)."""
    key = (
        "clips/" + digest({"text": text, "engine": tts.info.as_dict(), "voice": voice.id, "rate": round(rate, 3)})[:32]
    )
    wav_key = f"{key}.wav"
    if store.exists(wav_key):
        data = store.get_bytes(wav_key)
        tmp = scratch / f"{Path(wav_key).name}"
        tmp.write_bytes(data)
        return store.uri(wav_key), wav_duration(tmp)
    out = scratch / f"{Path(key).name}.wav"
    try:
        tts.synthesize(text, voice, out, Prosody(rate=rate))
    except Exception as e:  # engine errors carry their own message
        raise StageError(f"{tts.name} could not speak {text[:60]!r}: {e}") from e
    return store.put_file(wav_key, out), wav_duration(out)


def synthesize(
    settings: Settings, translated: dict[str, Any], use: str = "dubbing", today: str | None = None
) -> dict[str, Any]:
    lang = translated["language"]
    tts = choose_tts(settings, lang)
    voice = tts.voice_for(lang)
    day = date.fromisoformat(today) if today else date.today()
    require_consent(voice, use, lang, day)
    material = {"script": translated["script_uri"], "engine": tts.info.as_dict(), "voice": voice.id, "use": use}

    def work(run: StageRun) -> dict[str, Any]:
        script = load_script(run.store, translated["script_uri"]).revised(f"synthesize:{lang}")
        total = len(script.segments)
        spoken = 0.0
        for i, seg in enumerate(script.segments):
            tr = seg.translations.get(lang)
            if tr is None or not tr.text.strip():
                continue
            require_consent(voice, use, lang, day)  # a revocation mid-run stops the lines not yet spoken
            uri, dur = synth_clip(run.store, tts, voice, tr.text, 1.0, run.scratch)
            seg.clips[lang] = Clip(uri=uri, duration=round(dur, 4), engine=tts.name, voice=voice.id)
            spoken += dur
            run.step(i + 1, total, seg.id)
        return {
            "language": lang,
            "script_uri": save_script(run, script),
            "engine": tts.info.as_dict(),
            "voice": voice.id,
            "lines": total,
            "speech_s": round(spoken, 3),
        }

    return run_stage(settings, "synthesize", material, work, label=lang)
