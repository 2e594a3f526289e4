"""The Script: one typed document that carries a job from transcription to delivery.

Every stage reads a Script and writes a new revision of it to the store. Per-segment content hashes
let a re-run tell what changed.
"""

from __future__ import annotations

import hashlib
import json

from pydantic import BaseModel, Field, model_validator


class WordTiming(BaseModel):
    text: str
    start: float = Field(ge=0)
    end: float = Field(ge=0)
    probability: float = 1.0


class Translation(BaseModel):
    text: str  # what is spoken and subtitled
    engine: str  # model id of the engine that produced this line ("apertium" where the LLM fell back)
    full_text: str | None = None  # the first rendering, when a shorter one was asked for to fit the slot
    budget_chars: int | None = None
    budget_syllables: int | None = None  # an up-front budget in syllables (DUBLINE_MT_BUDGET_UNIT)
    model_sha256: str | None = None  # weights of that engine, where it has a file
    prompt_version: str | None = None  # LLM engines: the prompt wording's version
    flags: list[str] = Field(default_factory=list)  # fallback, over-budget, unvalidated, warnings


class FitReport(BaseModel):
    """How a dubbed line was placed in its slot."""

    start: float  # absolute placement = the source segment's start
    source_end: float = 0.0  # the source segment's end
    slot_end: float  # latest end without running into the next line (minus the minimum gap)
    natural_duration: float  # the clip as first synthesized (rate 1.0, first translation)
    rate: float = 1.0  # native rate asked from the engine
    stretch: float = 1.0  # tempo factor applied afterwards (>1 = faster)
    factor: float = 1.0  # overall speed-up: natural_duration / final_duration
    final_duration: float = 0.0
    steps: list[str] = Field(default_factory=list)  # fits | silence | rate | shorten | stretch | smooth | overrun
    overrun_s: float = 0.0  # > 0 when the line still ends after slot_end
    gap_to_next_s: float | None = None  # silence between this line's end and the next line's start


class SegmentProsody(BaseModel):
    """The source line's delivery, measured on the source audio (pipeline.speech.prosody_measure)."""

    rate_sps: float | None = None  # syllables per second over the speech (pauses excluded)
    f0_median_hz: float | None = None
    f0_range_st: float | None = None  # 10th-90th percentile of F0, in semitones
    energy_db: float | None = None  # RMS level of the voiced frames, dBFS
    pause_before_s: float = 0.0
    pauses_s: float = 0.0  # silence between words inside the line
    voiced_ratio: float | None = None


class LineQA(BaseModel):
    """The check of a synthesized line: heard again by ASR, compared with what was meant."""

    heard: str = ""
    wer: float | None = None
    similarity: float | None = None  # speaker cosine to the assigned voice's reference
    similarity_campp: float | None = None  # a person's cloned voice: CAM++ cosine to them (the second judge)
    attempts: int = 1
    passed: bool = True
    tried: list[str] = Field(default_factory=list)  # the settings of each attempt
    reason: str = ""


class Clip(BaseModel):
    uri: str
    duration: float
    engine: str
    voice: str
    rate: float = 1.0
    natural_duration: float | None = None  # at rate 1.0 with the first translation
    steps: list[str] = Field(default_factory=list)  # ladder rungs used at synthesis
    fit: FitReport | None = None
    speaker: str | None = None
    person_id: str | None = None  # a person's (cloned) voice: made under a consent
    pitch: float = 1.0
    volume: float = 1.0
    style: str | None = None  # a named delivery style (narration)
    qa: LineQA | None = None


class Segment(BaseModel):
    id: str
    start: float = Field(ge=0)
    end: float = Field(ge=0)
    speaker: str = "S1"
    text: str
    words: list[WordTiming] = Field(default_factory=list)
    translations: dict[str, Translation] = Field(default_factory=dict)
    clips: dict[str, Clip] = Field(default_factory=dict)
    prosody: SegmentProsody | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Segment:
        if self.end < self.start:
            raise ValueError(f"segment {self.id}: end {self.end} before start {self.start}")
        return self

    def content_hash(self, language: str | None = None) -> str:
        """Hash of what synthesis of this line depends on (text, timing, the translation)."""
        doc: dict[str, object] = {"text": self.text, "start": self.start, "end": self.end}
        if language:
            tr = self.translations.get(language)
            doc["tr"] = tr.text if tr else None
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


class SourceInfo(BaseModel):
    uri: str
    sha256: str
    filename: str
    duration: float
    has_video: bool
    language: str | None = None
    language_probability: float | None = None


class SpeakerInfo(BaseModel):
    """One diarized speaker: how much they speak, how they sound, and who they are where known."""

    id: str
    seconds: float = 0.0
    segments: int = 0
    f0_median_hz: float | None = None
    f0_range_st: float | None = None
    presentation: str = "unknown"  # low | high | unknown (voice pitch, for choosing a stock voice)
    embedding: list[float] | None = None  # Resemblyzer centroid
    person_id: str | None = None  # matched to an enrolled person
    match_cosine: float | None = None
    confirmed: bool = False  # the operator confirmed the person (job parameter), not only the embedding


class VoiceChoice(BaseModel):
    """The voice a speaker gets in one language, and why."""

    engine: str
    voice_id: str
    language: str
    person_id: str | None = None
    profile_uri: str | None = None  # a cloned voice's profile folder in the store
    profile_sha256: str | None = None  # of its profile.json, as the ledger recorded it (checked before use)
    pitch: float = 1.0  # a stock voice shifted to tell speakers apart
    reason: str = ""  # person | series | suited | fallback
    series_key: str | None = None


class Script(BaseModel):
    version: int = 1
    revision: int = 0
    source: SourceInfo
    speakers: list[str] = Field(default_factory=lambda: ["S1"])
    segments: list[Segment] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=list)
    speaker_info: dict[str, SpeakerInfo] = Field(default_factory=dict)
    voices: dict[str, dict[str, VoiceChoice]] = Field(default_factory=dict)  # language -> speaker -> voice
    history: list[str] = Field(default_factory=list)  # stage names, one per revision

    def revised(self, stage: str) -> Script:
        new = self.model_copy(deep=True)
        new.revision = self.revision + 1
        new.history = [*self.history, stage]
        return new

    def speech_spans(self) -> list[tuple[float, float]]:
        return [(s.start, s.end) for s in self.segments]

    def to_json(self) -> bytes:
        return self.model_dump_json(indent=1).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Script:
        return cls.model_validate_json(data)
