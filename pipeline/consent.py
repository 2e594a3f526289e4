"""The consent gate, called by the synthesis stage before any line is spoken in a person's voice.

Stock voices (no person) need no consent. A person's voice needs a consent record covering this use,
language and date that is not revoked; until the consent ledger exists, no such record can exist, so
every request for a person's voice is refused.
"""

from __future__ import annotations

from datetime import date

from models.base import Voice
from pipeline.errors import ConsentError

USES = ("dubbing", "audio_description", "audiobook")


def require_consent(voice: Voice, use: str, language: str, on: date) -> None:
    if use not in USES:
        raise ConsentError(f"unknown use {use!r}", f"use one of {', '.join(USES)}")
    if voice.person_id is None:
        return
    raise ConsentError(
        f"no consent record lets voice {voice.id} of person {voice.person_id} be used for {use} in "
        f"{language} on {on.isoformat()}",
        "record the person's consent before using their voice",
    )
