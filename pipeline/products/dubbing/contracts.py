"""Dubbing's typed contracts: the run configuration (`DubRequest`, validated once where a job enters:
the CLI or the DAG's `configure` task) and what its own stages hand on (translate, synthesize, fit, mux,
publish). The shared stages' results are in `pipeline.stages.contracts`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from pipeline.core.langs import check_language, language_list, normalize_language
from pipeline.core.stagerun import Contract, StageResult
from pipeline.stages.contracts import BedSpecParam, JsonDoc, SpeechTrack

Container = Literal["mp4", "mkv", "m4a"]
LoudnessProfile = Literal["ebu_r128", "atsc_a85", "streaming", "acx", "none"]
SubtitleProfile = Literal["broadcast", "children"]
Style = Literal["", "neutral", "warm", "excited", "calm", "serious"]
Denoise = Literal["", "off", "auto", "speech", "all"]
Profile = Literal["", "fast", "balanced", "best"]


def parse_speaker_people(spec: Mapping[str, Any] | str | None) -> dict[str, str]:
    """{"S1": "joe"} from a mapping or from "S1=joe,S2=ann" (speakers upper-cased, empty people dropped)."""
    if not spec:
        return {}
    if isinstance(spec, str):
        out: dict[str, str] = {}
        for part in spec.replace(";", ",").split(","):
            if not part.strip():
                continue
            spk, sep, person = part.partition("=")
            if not sep or not spk.strip() or not person.strip():
                raise ValueError(f"speaker mapping {part!r} is not SPEAKER=PERSON (write e.g. S1=joe)")
            out[spk.strip().upper()] = person.strip()
        return out
    return {str(k).strip().upper(): str(v).strip() for k, v in spec.items() if str(v).strip()}


class Retake(Contract):
    """A line spoken again with other delivery settings (`dubline retake`)."""

    style: Style = ""
    rate: float | None = Field(None, ge=0.5, le=2.0, description="speaking rate against the line's own")
    take: int = Field(1, ge=1, description="the take's number: another take of the same settings")


def parse_scripts(spec: object) -> dict[str, str]:
    """{"es": "edited.srt"} from a mapping, from "es=edited.srt,en=t.vtt" or from a list of LANG=FILE."""
    if not spec:
        return {}
    if isinstance(spec, Mapping):
        pairs = [(str(k), str(v)) for k, v in spec.items()]
    else:
        parts = spec.split(",") if isinstance(spec, str) else [str(p) for p in spec]  # type: ignore[attr-defined]
        pairs = []
        for part in parts:
            if not part.strip():
                continue
            lang, sep, where = part.partition("=")
            if not sep or not lang.strip() or not where.strip():
                raise ValueError(f"script {part!r} is not LANG=FILE (write e.g. es=edited.srt)")
            pairs.append((lang, where))
    out: dict[str, str] = {}
    for lang, where in pairs:
        code = normalize_language(lang.strip())
        if not code:
            raise ValueError(f"script language {lang!r} is not a language code (write e.g. es=edited.srt)")
        if where.strip():
            out[code] = where.strip()
    return out


class DubRequest(Contract):
    """One dub job as asked for: the `dub_video` DAG's params, normalised and checked in one place."""

    PARAMS_NAME = "dub"
    PARAMS_HINT = "fix it (see `dubline dub --help`)"

    input: str = Field(min_length=1, description="video or audio: a path, file:// or s3:// URI")
    source_language: str | None = Field(None, description="ISO 639-1 code; None = detect")
    target_languages: list[str] = Field(min_length=1, description="ISO 639-1 codes of the dub languages")
    output: str = Field("", description="folder, file:// or s3:// location; empty = the store")
    containers: list[Container] = Field(default_factory=lambda: list[Container](["mp4"]), min_length=1)
    loudness_profile: LoudnessProfile = "ebu_r128"
    stems: bool = False
    glossary: str = Field("", description="a JSON or TSV file (path or URI) or inline JSON; empty = none")
    speakers: int = Field(0, ge=0, description="number of speakers; 0 = find out")
    speaker_people: dict[str, str] = Field(default_factory=dict, description='e.g. {"S1": "joe"}')
    series: str = ""
    style: Style = ""
    subtitle_profile: SubtitleProfile = "broadcast"
    describe: str = Field(
        "",
        description="a description script (WebVTT, DAPT, CSV or JSON; path or URI): adds a described track per "
        "dub language; empty = none",
    )
    denoise: Denoise = Field("", description="off | auto | speech | all (README: Sound); empty = the settings'")
    bed: BedSpecParam = Field(
        "", description="a bed under the silent stretches: compose:MOOD, library:MOOD, ambience:KIND or a file"
    )
    scripts: dict[str, str] = Field(
        default_factory=dict,
        description='edited scripts to apply, by language: {"es": "edited.srt", "en": "transcript.vtt"} (README: '
        "Review); the source language's edits the transcript, a target's its translation",
    )
    editor: str = Field("", description="who edited the scripts (recorded in the revision history); empty = the user")
    review: bool = Field(False, description="wait for a person to approve the transcript and each translation")
    retakes: dict[str, dict[str, Retake]] = Field(
        default_factory=dict, description='per language and line, new delivery: {"es": {"s0007": {"rate": 0.95}}}'
    )
    profile: Profile = Field("", description="speed profile: fast | balanced | best; empty = DUBLINE_PROFILE")

    @field_validator("profile", mode="before")
    @classmethod
    def _profile(cls, v: object) -> str:
        return str(v or "").strip().lower()

    @field_validator("source_language", mode="before")
    @classmethod
    def _source(cls, v: object) -> str | None:
        code = normalize_language(str(v) if v is not None else None)
        return check_language(code) if code else None

    @field_validator("target_languages", mode="before")
    @classmethod
    def _targets(cls, v: object) -> list[str]:
        codes = language_list([v] if isinstance(v, str) else list(v or []))  # type: ignore[call-overload]
        if not codes:
            raise ValueError("no target language given (write e.g. --to es)")
        return [check_language(c) for c in codes]

    @field_validator("containers", mode="before")
    @classmethod
    def _containers(cls, v: object) -> list[str]:
        items = [v] if isinstance(v, str) else list(v or ["mp4"])  # type: ignore[call-overload]
        return list(dict.fromkeys(str(c).strip().lower().lstrip(".") for c in items if str(c).strip()))

    @field_validator("speaker_people", mode="before")
    @classmethod
    def _people(cls, v: object) -> dict[str, str]:
        if v is None or isinstance(v, str | Mapping):
            return parse_speaker_people(v)
        raise ValueError('give a mapping such as {"S1": "joe"} or S1=joe')

    @field_validator("series", "glossary", "output", "input", "describe", "bed", mode="before")
    @classmethod
    def _strip(cls, v: object) -> str:
        return str(v or "").strip()

    @field_validator("style", "denoise", mode="before")
    @classmethod
    def _style(cls, v: object) -> str:
        return str(v or "").strip().lower()

    @field_validator("scripts", mode="before")
    @classmethod
    def _scripts(cls, v: object) -> dict[str, str]:
        return parse_scripts(v)

    @model_validator(mode="after")
    def _not_into_itself(self) -> DubRequest:
        if self.source_language and self.source_language in self.target_languages:
            raise ValueError(f"target language {self.source_language} is the source language")
        known = {*self.target_languages, "source", *([self.source_language] if self.source_language else [])}
        unknown = [lang for lang in self.scripts if lang not in known]
        if len(unknown) > (0 if self.source_language else 1):  # undetected yet, one other may be the source
            raise ValueError(
                f"an edited script is given for {unknown[-1]}, which is neither the source language"
                f" ({self.source_language or 'detected'}) nor a target ({', '.join(self.target_languages)})"
            )
        for lang in self.retakes:
            if lang not in self.target_languages:
                raise ValueError(f"a retake is asked for {lang}, which is not a target language")
        return self


class Translated(StageResult):
    """One target language's translations, in a new revision of the Script."""

    language: str
    script_uri: str
    engine: JsonDoc
    lines: int
    lines_by_engine: dict[str, int]
    fallbacks: int
    unvalidated: int
    cached_lines: int
    glossary_entries: int
    budget: JsonDoc | None = None
    # edits applied (the transcript's and this language's): the stale lines {id: why} and the revisions
    revision: JsonDoc | None = None


class Synthesized(StageResult):
    """One language's spoken lines (clips in the store, listed in the Script), their voices and QA."""

    language: str
    script_uri: str
    engine: JsonDoc
    voice: str
    voices: list[JsonDoc]
    casting_warnings: list[str] = []
    consents: list[int] = []
    lines: int
    speech_s: float
    rate_changed: int
    shortened: int
    delivery: JsonDoc
    qa: JsonDoc | None = None
    rendered: dict[str, str] = {}  # the lines spoken in this run, and why (new, an edit, a retake)
    reused: int = 0  # lines whose clip and check an earlier run made (unchanged since)
    # lines spoken again whose clip was already in the store (a run stopped midway, e.g. killed, made it): their
    # synthesis is skipped, their check is not
    clips_reused: int = 0


class Fitted(SpeechTrack):
    """One language's lines placed on the picture's timeline (the timing ladder's report beside it)."""

    script_uri: str
    summary: dict[str, int | float]
    timing_report_uri: str


class Muxed(StageResult):
    """The delivered media and subtitles, built in the store; `c2pa` is filled in by publish's signing."""

    media_uri: str
    media_ext: str
    media: dict[str, str]
    subtitles: dict[str, dict[str, str]]
    subtitle_profile: str
    subtitle_checks: dict[str, dict[str, int]]
    loudness: dict[str, JsonDoc]
    script_uri: str
    languages: list[str]
    source_language: str
    c2pa: JsonDoc | None = None


class Published(Contract):
    """Where the job's files went: the location, each file, the report, presigned links (S3 only), the
    provenance manifests and the job manifest."""

    location: str
    files: dict[str, str]
    report: str
    links: dict[str, str] | None = None
    provenance: dict[str, str] = {}
    manifest: str = ""


class DescribedDub(StageResult):
    """One dub language's described track: the description script translated into the language, spoken by
    its describer in the dub's gaps (never over the dub's or the original's speech unflagged), and mixed into
    the dub (ducked under each description, normalized, marked)."""

    language: str
    mix_uri: str  # the described dub: the dub's mix with the descriptions, normalized and watermarked
    stem_uri: str  # the descriptions alone on the programme's timeline
    placed_uri: str  # PlacedCue list (JSON)
    vtt_uri: str  # the descriptions as placed, WebVTT
    spans: list[tuple[float, float]]
    cues: int
    script: JsonDoc  # the script as given: filename, sha256, format, language
    translation: JsonDoc | None = None  # engine and provenance where the script was in another language
    voice: JsonDoc
    consents: list[int] = []
    figures: JsonDoc
    qa: JsonDoc | None = None
    loudness: JsonDoc
    levels: JsonDoc
    watermark: JsonDoc | None = None
