"""Typed results of the shared stages: what ingest, transcribe (with diarize and cast after it), separate
and mix hand to the stages after them. Each is a `StageResult` (pydantic, strict about its fields) that
serializes to a small JSON document for XCom; media stay in the store and travel as URIs.

A few fields hold a JSON document that a report shows as it is (`JsonDoc`: an engine's model info, the
diarization report, loudness figures): their inner shape belongs to the module that makes them.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict

from pipeline.core.stagerun import JsonDoc, StageResult


def _checked_bed(spec: str) -> str:
    """A request's `bed` checked where the job enters (pipeline.audio.beds.checked_spec: an unknown mood or
    kind, or a missing file, is a ValueError the request names); imported only when a bed is asked for."""
    if not spec:
        return spec
    from pipeline.audio.beds import checked_spec

    return checked_spec(spec)


BedSpecParam = Annotated[str, AfterValidator(_checked_bed)]  # a request's bed spec, checked

class Ingested(StageResult):
    """The stored source and its two derived audio copies (16 kHz mono for ASR, 48 kHz stereo for mixing)."""

    source_uri: str
    source_sha256: str
    filename: str
    stem: str
    duration: float
    has_video: bool
    video_codec: str | None = None
    asr_audio_uri: str
    full_audio_uri: str
    script_uri: str
    denoise: JsonDoc | None = None  # what the denoiser measured and did (mode, SNR, copies cleaned, engine)
    warnings: list[str] = []  # what the user should know about the input (a few read errors, tracks not dubbed)


class SpeakerSummary(BaseModel):
    """One diarized speaker as the report shows them (after casting)."""

    model_config = ConfigDict(extra="forbid")

    speaker: str
    seconds: float | None = None
    f0_median_hz: float | None = None
    presentation: str | None = None
    person: str | None = None
    match_cosine: float | None = None
    confirmed: bool = False


class Transcribed(StageResult):
    """The Script with the source's lines. transcribe makes it; diarize adds the speakers (`speakers`,
    `diarization`) and cast the people matched to them and their delivery (`people`, `speaker_info`), each
    returning a new revision of the same contract."""

    script_uri: str
    language: str
    language_probability: float
    segments: int
    words: int
    model: JsonDoc
    # stretches heard as another language than the programme's: start, end, lines, language, probability
    other_languages: list[JsonDoc] = []
    warnings: list[str] = []  # what the user should know about the transcript (speech in another language)
    speakers: int = 1
    diarization: JsonDoc | None = None
    people: list[str] = []
    speaker_info: list[SpeakerSummary] = []
    # a reviewer's edit applied (products' revise stage): the Transcribed it was applied to ("previous"), the
    # lines it made stale ("stale": {id: why}) and the revision recorded; None = the transcript as heard
    revision: JsonDoc | None = None


class Separated(StageResult):
    """Dialogue and music-and-effects stems (None when separation is off)."""

    method: str
    warning: str = ""
    dialogue_uri: str | None = None
    bed_uri: str | None = None
    separation_s: float = 0.0
    rtf: float | None = None


class SpeechTrack(StageResult):
    """A language's synthetic speech laid on the programme's timeline, ready to be mixed: what `mix`
    needs of any product's speech (a dub's fitted lines, a description track, a narration)."""

    language: str
    dub_speech_uri: str
    spans: list[tuple[float, float]]


class Mixed(StageResult):
    """One language's finished, normalized and watermarked track (and the marked speech stem)."""

    language: str
    mix_uri: str
    peak_scale: float
    loudness: JsonDoc
    watermark: JsonDoc | None = None
    dub_stem_uri: str | None = None
    bed: JsonDoc | None = None  # a bed laid under the silent stretches: its provenance (generated) and figures
    mode: str
    base: str
    duck_db: float
    attack: float
    release: float
    dub_gain_db: float
    loudness_profile: str
