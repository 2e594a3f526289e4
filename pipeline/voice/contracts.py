"""Typed hand-offs of enrolment (the `enroll_voice` DAG): the request, what `check` found, what `build` made
and what `record` wrote to the ledger."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pipeline.core.langs import normalize_language
from pipeline.core.stagerun import Contract, JsonDoc, StageResult


class Reference(BaseModel):
    """One checked reference recording, stored beside the consent evidence."""

    model_config = ConfigDict(extra="forbid")

    name: str
    uri: str
    sha256: str
    speech_s: float
    cosine: float
    embedding: list[float]
    denoise: JsonDoc | None = None  # the check heard a cleaned copy: the denoiser and the SNR before/after


class EnrollChecked(Contract):
    """Consent found and references checked: what `build` and `record` need."""

    person: str
    language: str
    use: str
    backend: str
    consent_id: int
    speech_s: float
    references: list[Reference]
    speaker_model: JsonDoc


class EnrollBuilt(StageResult):
    """The published profile folder (profile.json last) and the backend's figures."""

    profile_uri: str
    profile_json_uri: str
    sha256: str
    backend: str
    languages: list[str]
    figures: JsonDoc
    files: list[str]
    budget_s: float


class Enrolled(Contract):
    """The voice profile as the ledger recorded it; `created` False when the same enrolment was recorded
    before, `searched` False when the search result was reused."""

    profile_id: int
    person: str
    language: str
    use: str
    backend: str
    languages: list[str]
    uri: str
    sha256: str
    figures: JsonDoc
    consent_id: int
    reference_ids: list[int]
    speech_s: float
    created: bool
    searched: bool


class EnrollRequest(Contract):
    """One enrolment as asked for: the `enroll_voice` DAG's params (or `dubline voice enroll`'s options)."""

    PARAMS_NAME = "enrolment"
    PARAMS_HINT = "fix that parameter"

    person: str = Field(min_length=1, description="the person's handle in the consent ledger")
    references: list[str] = Field(min_length=1, description="recordings of the person (paths or URIs)")
    language: str = Field(min_length=2, description="ISO 639-1 code the voice will speak")
    use: Literal["dubbing", "audio_description", "audiobook"] = "dubbing"
    backend: str = Field("", description="cloning backend; empty = DUBLINE_CLONE_BACKEND")
    budget_s: float = Field(0.0, ge=0, description="seconds the search may take; 0 = the setting")

    @field_validator("language", mode="before")
    @classmethod
    def _language(cls, v: object) -> str:
        return normalize_language(str(v or ""))

    @field_validator("person", "backend", mode="before")
    @classmethod
    def _strip(cls, v: object) -> str:
        return str(v or "").strip()
