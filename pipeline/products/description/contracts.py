"""Audio description's typed contracts: the run configuration (`DescribeRequest`, validated once where a job
enters: the CLI or the DAG's `configure` task) and what its own stages hand on (the script read, the dialogue
map, the voiced descriptions, the AD mix, the rendered deliverables, the publication). The shared stages'
results (ingest, transcribe) are in `pipeline.stages.contracts`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator

from pipeline.core.langs import normalize_language
from pipeline.core.stagerun import Contract, JsonDoc, StageResult
from pipeline.stages.contracts import BedSpecParam

Container = Literal["mp4", "mkv"]
LoudnessProfile = Literal["ebu_r128", "atsc_a85", "streaming", "none"]
Style = Literal["", "neutral", "calm", "warm", "serious"]


class DescribeRequest(Contract):
    """One described video as asked for: the `describe_video` DAG's params, normalised and checked once."""

    PARAMS_NAME = "describe"
    PARAMS_HINT = "fix it (see `dubline describe --help`)"

    video: str = Field(min_length=1, description="the programme: a video path, file:// or s3:// URI")
    script: str = Field(min_length=1, description="descriptions: WebVTT, DAPT (TTML2), CSV or JSON; path or URI")
    output: str = Field("", description="folder, file:// or s3:// location; empty = the store")
    extended: bool = Field(False, description="also render extended description (the picture pauses)")
    voice: str = Field(
        "",
        description="describer: ENGINE:VOICE (a stock voice), person:ID (their consented, cloned voice) or empty "
        "(the stock voice for the language)",
    )
    style: Style = Field("", description="delivery style; empty = neutral")
    language: str = Field("", description="ISO 639-1 of the descriptions; empty = the script's, else the programme's")
    containers: list[Container] = Field(default_factory=lambda: list[Container](["mp4"]), min_length=1)
    loudness_profile: LoudnessProfile = "ebu_r128"
    duck_db: float = Field(-10.0, ge=-40.0, le=0.0, description="programme gain while a description speaks")
    description_gain_db: float = Field(
        0.0, ge=-12.0, le=12.0, description="description level, relative to the programme's level before ducking"
    )
    denoise: Literal["", "off", "auto", "speech"] = Field(
        "", description="denoise the speech the dialogue map hears (not the programme mixed); empty = the settings'"
    )
    bed: BedSpecParam = Field(
        "", description="a bed under the programme's silent stretches: compose:MOOD, library:MOOD, ambience:KIND, FILE"
    )
    lookahead_s: float = Field(10.0, ge=0.0, le=120.0, description="how far after its time a description may go")

    @field_validator("video", "script", "output", "voice", "bed", mode="before")
    @classmethod
    def _strip(cls, v: object) -> str:
        return str(v or "").strip()

    @field_validator("denoise", mode="before")
    @classmethod
    def _lower(cls, v: object) -> str:
        return str(v or "").strip().lower()

    @field_validator("style", mode="before")
    @classmethod
    def _style(cls, v: object) -> str:
        return str(v or "").strip().lower()

    @field_validator("language", mode="before")
    @classmethod
    def _language(cls, v: object) -> str:
        return normalize_language(str(v) if v is not None else None)

    @field_validator("containers", mode="before")
    @classmethod
    def _containers(cls, v: object) -> list[str]:
        items = [v] if isinstance(v, str) else list(v or ["mp4"])  # type: ignore[call-overload]
        return list(dict.fromkeys(str(c).strip().lower().lstrip(".") for c in items if str(c).strip()))

    @field_validator("voice")
    @classmethod
    def _voice(cls, v: str) -> str:
        if v and (":" not in v or not v.split(":", 1)[0] or not v.split(":", 1)[1]):
            raise ValueError(f"{v!r} is not ENGINE:VOICE or person:ID (e.g. kokoro:jm_kumo, person:joe)")
        return v


class ScriptRead(StageResult):
    """The description script read and checked against the programme (its cues as JSON in the store)."""

    filename: str
    stem: str  # the programme's stem: deliverables are named after it
    sha256: str
    source_uri: str  # the script as given, kept in the store (provenance's input)
    format: str
    language: str  # the descriptions' language, decided (request, script, programme)
    cues_uri: str
    cues: int
    drafts: int = 0
    clipped: list[str] = []  # cues whose end ran past the programme's end (clipped to it)


class DialogueMapped(StageResult):
    """Where people speak (VAD and ASR words, with guard margins) and the gaps between: JSON in the store."""

    map_uri: str
    spans: int
    speech_s: float
    gap_s: float
    gaps: int
    guard_s: float


class DescriberInfo(BaseModel):
    engine: dict[str, str]
    voice: str
    person: str | None = None
    profile: str | None = None
    style: str = ""


class Described(StageResult):
    """The descriptions spoken and placed: the description stem on the programme's timeline (48 kHz mono WAV),
    the spans it speaks in, each cue as placed (JSON: PlacedCue list) and, for extended description, the holds
    of the picture and the stem on the extended timeline."""

    language: str
    track_uri: str
    spans: list[tuple[float, float]]
    placed_uri: str
    cues: int
    placed_within_1s: int
    shortened: int
    rated: int
    overruns: int
    overrun_s: float
    delayed: int
    voice: DescriberInfo
    consents: list[int] = []
    qa: JsonDoc | None = None
    extended: bool = False
    holds: list[tuple[float, float]] = []  # (programme time, seconds held)
    extended_track_uri: str | None = None
    extended_spans: list[tuple[float, float]] = []
    extended_placed_uri: str | None = None


class ADMixed(StageResult):
    """The AD mix: the programme ducked under the descriptions, normalized and marked (and the extended one)."""

    language: str
    mix_uri: str
    stem_uri: str  # the descriptions alone on the programme's timeline, marked
    loudness: JsonDoc
    levels: JsonDoc  # programme level under descriptions vs outside them
    watermark: JsonDoc | None = None
    extended_mix_uri: str | None = None
    extended_loudness: JsonDoc | None = None
    bed: JsonDoc | None = None  # a bed laid under the silent stretches: its provenance (generated) and figures


class Rendered(StageResult):
    """The deliverables built in the store: the described media, the extended video, the scripts as placed."""

    media: dict[str, str]  # container -> URI
    extended_uri: str | None = None
    vtt_uri: str
    dapt_uri: str
    original_loudness: JsonDoc
    c2pa: JsonDoc


class DescriptionPublished(Contract):
    location: str
    files: dict[str, str]
    report: str
    links: dict[str, str] | None = None
    provenance: dict[str, str] = {}
    manifest: str = ""
