"""Per-line records of synthesis: each spoken line (its clip, its check, the translation as spoken) kept in
the store under a key of everything the line depends on, so that a re-run after an edit or a retake speaks
and checks only the lines that changed, and a run killed halfway through a language resumes line by line.

The key covers the engine and its weights, the voice (and the person's profile), the delivery asked for
(prosody after transfer, a retake's style and rate), the text, the source line it came from, its slot on
the timeline, the fitting ladder's and QA's settings. The consent gate is not part of a record: a reused
line in a person's voice passes the gate again, as a new one would.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from pydantic import BaseModel

from models.base import Prosody
from pipeline.core.config import Settings
from pipeline.core.errors import DublineError
from pipeline.core.script import Clip, Segment, Translation
from pipeline.core.stagerun import digest
from pipeline.core.storage import ObjectStore, get_json, put_json
from pipeline.products.dubbing.contracts import Retake
from pipeline.products.dubbing.voicing import Cast
from pipeline.text import timing

log = logging.getLogger(__name__)

PREFIX = "lines"
VERSION = 1  # bump when what a line record holds, or how a line is made, changes


class LineRecord(BaseModel):
    clip: Clip
    translation: Translation


def line_key(
    settings: Settings, c: Cast, base: Prosody, seg: Segment, tr: Translation, slot: timing.Slot,
    source: str, take: Retake | None,
) -> str:  # fmt: skip
    material: dict[str, Any] = {
        "v": VERSION,
        "engine": c.tts.info.as_dict(),
        "voice": c.voice.id,
        "person": c.voice.person_id,
        "profile": c.choice.profile_sha256,
        "prosody": dataclasses.asdict(base),
        "text": tr.text,
        "source_text": seg.text,
        "source": source,
        "slot": [round(slot.start, 4), round(slot.end, 4)],
        "ladder": [settings.fit_min_gap_s, settings.fit_max_rate, settings.stretch_max, settings.fit_shorten],
        "qa": [settings.qa, settings.qa_max_wer, settings.qa_retries]
        + ([settings.qa_scope] if settings.qa_scope != "all" else []),
        "take": take.model_dump() if take else None,
    }
    return digest(material)[:32]


def _where(lang: str, key: str) -> str:
    return f"{PREFIX}/{lang}/{key[:2]}/{key}.json"


def get_line(store: ObjectStore, lang: str, key: str) -> LineRecord | None:
    """The recorded line, or None (a damaged or missing record is a miss: the line is spoken again)."""
    where = _where(lang, key)
    try:
        if not store.exists(where):
            return None
        return LineRecord.model_validate(get_json(store, where))
    except (DublineError, OSError, ValueError) as e:
        log.warning("line record %s unreadable (%s); speaking the line again", where, e)
        return None


def put_line(store: ObjectStore, lang: str, key: str, record: LineRecord) -> None:
    put_json(store, _where(lang, key), record.model_dump(mode="json"))


def retake_note(take: Retake) -> str:
    parts = [f"style {take.style}" if take.style else "", f"rate {take.rate:g}" if take.rate else ""]
    return "retake" + (f" ({', '.join(p for p in parts if p)})" if any(parts) else f" {take.take}")


def _spoken_where(source_sha256: str, lang: str, seg_id: str, written: str) -> str:
    key = digest({"source": source_sha256, "lang": lang, "id": seg_id, "text": written})[:32]
    return f"{PREFIX}/{lang}/spoken/{key[:2]}/{key}.json"


def put_spoken(store: ObjectStore, source_sha256: str, lang: str, seg_id: str, written: str, spoken: str) -> None:
    """Remember that line `seg_id`, translated as `written`, was spoken as `spoken` (shortened to fit), so
    that a reviewer's file holding the spoken text reads as unchanged (pipeline.products.dubbing.revise)."""
    put_json(store, _spoken_where(source_sha256, lang, seg_id, written), {"spoken": spoken})


def get_spoken(store: ObjectStore, source_sha256: str, lang: str, seg_id: str, written: str) -> str | None:
    where = _spoken_where(source_sha256, lang, seg_id, written)
    try:
        return str(get_json(store, where)["spoken"]) if store.exists(where) else None
    except (DublineError, OSError, ValueError, KeyError):
        return None
