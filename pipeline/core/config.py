"""One typed settings object, read from DUBLINE_* environment variables, with embedded defaults.

The defaults need no server: a data folder under the user's home holds the SQLite databases (the
project's and Airflow's) and a local object store. PostgreSQL and S3 are chosen by URL.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from models.tts import DEFAULT_TTS_PREFERENCE
from pipeline.core.profiles import DEFAULT_PROFILE, PROFILE_NAMES, check_profile, profile_values


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "dubline"


def _default_model_dir() -> Path:
    from models.registry import default_model_dir

    return default_model_dir()


# Translation engines per language pair, from `make eval` (benchmarks/eval/translation.py, README): the LLM
# where its chrF was higher than Apertium's, Apertium first where it was not measured or not beaten.
DEFAULT_MT_ORDER: dict[str, list[str]] = {
    **{f"{s}-{t}": ["llm", "apertium"] for s, t in [("en", "es"), ("es", "en"), ("en", "fr"), ("fr", "en")]},
    **{f"{s}-{t}": ["llm", "apertium"] for s, t in [("en", "de"), ("de", "en")]},
    "*": ["apertium", "llm"],
}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DUBLINE_", extra="ignore")

    profile: str = Field(
        DEFAULT_PROFILE,
        description=f"speed profile: {' | '.join(PROFILE_NAMES)}; sets what is not set explicitly (README: Speed)",
    )
    data_dir: Path = Field(default_factory=_default_data_dir, description="databases, store, Airflow home")
    store_url: str = Field("", description="object store: file:///path or s3://bucket/prefix; default <data_dir>/store")
    db_url: str = Field("", description="project database URL; default sqlite:///<data_dir>/dubline.db")
    airflow_home: Path | None = Field(None, description="AIRFLOW_HOME for `dubline dub`; default <data_dir>/airflow")
    model_dir: Path = Field(default_factory=_default_model_dir, description="unpacked model weights")
    dags_dir: Path | None = Field(None, description="folder of the DAG files; default the checkout's dags/")

    # speech recognition
    asr_backend: str = Field("faster-whisper", description="faster-whisper | whisper (openai-whisper)")
    asr_model: str = Field(
        "whisper-base-ct2",
        description="a registry model id, or a folder (faster-whisper) / .pt file (whisper) of your own",
    )
    asr_compute_type: str = "int8"
    asr_beam_size: int = 5
    asr_vad: bool = True  # Silero voice activity (inside faster-whisper): no text "heard" in music or silence
    asr_threads: int = 0
    asr_language_check: bool = Field(
        True, description="hear each 15 s of speech for another language than the whole's (a warning per stretch)"
    )

    # translation and speech
    mt_engines: list[str] = Field(
        default_factory=lambda: ["llm", "apertium"],
        description="translation engines enabled here; also the order for pairs DUBLINE_MT_ORDER does not name",
    )
    mt_order: dict[str, list[str]] = Field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_MT_ORDER.items()},
        description='per language pair ("en-es"), engines in order of preference; the next able engine is the '
        'fallback; "*" for any other pair',
    )
    mt_llm_model: str = Field(
        "qwen2.5-coder-1.5b-instruct-gguf", description="a registry model id, or your own chat .gguf file"
    )
    mt_llm_languages: list[str] = Field(
        default_factory=lambda: ["en", "es", "fr", "de"], description="languages the LLM translator is offered for"
    )
    mt_llm_threads: int = Field(0, ge=0, description="llama.cpp threads; 0 = DUBLINE_ENGINE_THREADS (models.system)")
    mt_llm_ctx: int = Field(2048, ge=512, description="llama.cpp context window (tokens)")
    mt_context_lines: int = Field(
        0,
        ge=0,
        le=5,
        description="source lines before and after a line given to the LLM as context; 0 for the shipped 1.5B "
        "model, which then mixes the context into its answer (README, Translation)",
    )
    mt_glossary: str = Field("", description="glossary file (JSON or TSV) used when a job names none")
    mt_budget_ratio: float = Field(
        0.0, ge=0, description="translate with a length budget of this x the source line up front; 0 = off"
    )
    mt_budget_unit: str = Field("chars", pattern="^(chars|syllables)$", description="chars | syllables")
    mt_cache: bool = Field(True, description="keep LLM translations in the object store (mt-cache/)")
    tts_preference: dict[str, list[str]] = Field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_TTS_PREFERENCE.items()},
        description='per language, engines in order of preference; "*" for any other language',
    )

    # fitting and mixing
    fit_min_gap_s: float = 0.08
    fit_max_rate: float = 1.15  # fastest native rate the TTS may be asked for (rung b), before stretching
    subtitle_profile: str = Field("broadcast", description="broadcast (17 chars/s) or children (13 chars/s)")
    fit_shorten: bool = True  # ask the translator for a shorter line when stretching would not suffice
    fit_max_jump: float = 0.15  # neighbour smoothing: largest speed-up difference between consecutive lines
    stretch_min: float = 0.85
    stretch_max: float = 1.25
    separation: str = Field("auto", description="auto | spleeter | dsp | none: dialogue/bed separation")
    spleeter_python: Path | None = Field(None, description="Python of Spleeter's venv; default <repo>/.venv-spleeter")
    spleeter_model_dir: str = Field("", description="an operator's own Spleeter 2-stem checkpoint folder")
    mix_mode: str = Field("replace", description="replace: dub over the bed; voiceover: over the ducked original")
    bed_duck_db: float = -6.0  # gain of the music-and-effects bed under dub speech
    loudness_profile: str = Field("ebu_r128", description="ebu_r128 | atsc_a85 | streaming | acx | none")
    duck_db: float = -18.0  # gain of the original under dub speech (voice-over mode, or without separation)
    duck_attack_s: float = 0.08
    duck_release_s: float = 0.35
    dub_gain_db: float = 0.0
    # sound around the voice (issue 19): a denoiser before transcription, beds under silent stretches
    denoise: str = Field(
        "off",  # `make eval EVAL=denoise`: Whisper base hears noisy speech as well or better than denoised (README)
        description="off | auto | speech | all: denoise the speech copy (transcription, speakers) always (speech), "
        "when its measured SNR is below denoise_snr_db (auto), or the mix copy too, before separation (all)",
    )
    denoise_engine: str = Field("auto", description="auto | deepfilternet | dsp")
    denoise_snr_db: float = Field(15.0, description="auto: denoise when the speech copy's SNR is below this")
    consent_denoise: bool = Field(
        True, description="denoise consent recordings and voice references before their checks (figures recorded)"
    )
    bed: str = Field("", description="a bed under silent stretches: compose:MOOD, library:MOOD, ambience:KIND, FILE")
    bed_level_db: float = Field(-30.0, le=0, description="the bed's RMS in dBFS where nothing else sounds")
    bed_duck_under_speech_db: float = Field(-14.0, le=0, description="the bed's gain under speech")

    # consent (the "voice captcha" of `dubline consent grant`) and the person-voice stand-in
    consent_max_wer: float = Field(0.25, ge=0, description="largest word error rate of a consent recording")
    consent_min_cosine: float = Field(0.75, ge=-1, le=1, description="smallest speaker cosine to each reference")
    consent_request_days: int = Field(1, ge=1, description="days a consent statement may be recorded after")
    person_voices: dict[str, str] = Field(
        default_factory=dict,
        description='{"es": "joe"}: the voice for that language is person joe\'s (consent applies); a stand-in '
        "until voice cloning",
    )

    # speakers, voices and delivery (issue 5)
    diarize: bool = Field(True, description="find the speakers (silero-vad + Resemblyzer windows + clustering)")
    diarize_speakers: int = Field(0, ge=0, description="number of speakers; 0 = estimate it")
    diarize_max_speakers: int = Field(8, ge=1)
    diarize_threshold: float = Field(0.38, gt=0, lt=2, description="cosine distance that separates two speakers")
    diarize_window_s: float = Field(1.5, gt=0.4)
    diarize_hop_s: float = Field(0.75, gt=0.05)
    voice_match_min_cosine: float = Field(
        0.80, ge=-1, le=1, description="a speaker is matched to an enrolled person from this cosine"
    )
    clone_backend: str = Field(
        "auto",
        description="auto (the best of knn-vc and world-match) | knn-vc | kokoro-search | world-match | module:Class",
    )
    clone_budget_s: float = Field(300.0, gt=0, description="seconds an enrolment may search for the voice")
    clone_min_reference_s: float = Field(10.0, ge=1, description="least reference speech to enrol a voice")
    stock_voices: bool = Field(True, description="give each speaker a stock voice suited to them (else one voice)")
    prosody_transfer: bool = Field(True, description="carry the source's rate, pitch and energy into the dub")
    # bounds of the rate carried from the source (before fitting); 0.85-1.15 capped rate transfer at Spearman
    # 0.43-0.75 across engines, 0.7-1.3 reached 0.72-0.82 (make eval EVAL=prosody)
    prosody_rate_min: float = 0.75
    prosody_rate_max: float = 1.3
    qa: bool = Field(True, description="re-transcribe every synthesized line and check it")
    qa_max_wer: float = Field(0.34, ge=0, description="a line heard with more errors than this is re-synthesized")
    qa_retries: int = Field(2, ge=0, le=5, description="re-syntheses of a line that fails its check")
    qa_scope: str = Field(
        "all",
        pattern="^(all|changed)$",
        description="all: re-hear every line; changed: only lines shortened, sped up or to be stretched past 1.1x",
    )

    # marking and content credentials
    watermark: bool = Field(True, description="put the inaudible mark in every synthetic dub track")
    watermark_key: SecretStr = Field(
        SecretStr(""),
        description="key of the mark (whoever holds it can read and forge it); empty = this installation's own, "
        "<c2pa dir>/watermark.key, made on first use",
    )
    c2pa_sign: bool = Field(True, description="sign delivered mp4/m4a with a C2PA manifest (mkv cannot carry one)")
    c2pa_cert_dir: Path | None = Field(None, description="C2PA signing CA, certificate, key; default <data_dir>/c2pa")

    # object storage (S3): unset endpoint, region and keys fall back to boto3's chain (AWS_* variables, ~/.aws)
    s3_endpoint: str = Field("", description="S3 endpoint URL, e.g. http://127.0.0.1:8333; empty = AWS")
    s3_region: str = ""
    s3_access_key: str = ""
    s3_secret_key: SecretStr = SecretStr("")
    s3_addressing_style: str = Field("", description="path | virtual | auto; empty = path with an endpoint")
    s3_max_attempts: int = Field(5, ge=1, description="tries per request on connection errors, timeouts, 5xx")
    s3_backoff_s: float = Field(0.5, ge=0, description="wait before the 2nd try; doubles each try (jitter)")
    s3_backoff_max_s: float = 20.0
    s3_connect_timeout_s: float = 10.0
    s3_read_timeout_s: float = 60.0
    s3_multipart_threshold_mb: int = Field(64, ge=5, description="files from this size go up in parts")
    s3_multipart_chunk_mb: int = Field(16, ge=5, description="part size (S3's minimum is 5 MB)")
    s3_max_concurrency: int = Field(8, ge=1, description="parallel parts per transfer")
    s3_presign_expiry_s: int = Field(86400, ge=1, le=604800, description="lifetime of delivery links")

    @field_validator("profile")
    @classmethod
    def _known_profile(cls, v: str) -> str:
        return check_profile(v)

    @model_validator(mode="after")
    def _apply_profile(self) -> Settings:
        """The profile's values for every setting not given explicitly (they stay out of model_fields_set,
        so `with_profile` can apply another profile over the same explicit settings)."""
        for name, value in profile_values(self.profile, set(self.model_fields_set)).items():
            self.__dict__[name] = value
        return self

    def with_profile(self, name: str) -> Settings:
        """These settings under profile `name`: what was set explicitly is kept, the rest is the profile's."""
        name = check_profile(name)
        if name == self.profile:
            return self
        explicit = {k: getattr(self, k) for k in self.model_fields_set if k != "profile"}
        return type(self).model_validate({**explicit, "profile": name})

    @field_validator("stretch_max")
    @classmethod
    def _stretch_bounds(cls, v: float) -> float:
        if not 1.0 <= v <= 2.0:
            raise ValueError("stretch_max must lie between 1.0 and 2.0")
        return v

    @property
    def resolved_store_url(self) -> str:
        return self.store_url or (self.data_dir / "store").resolve().as_uri()

    @property
    def resolved_db_url(self) -> str:
        return self.db_url or f"sqlite:///{(self.data_dir / 'dubline.db').resolve()}"

    @property
    def resolved_airflow_home(self) -> Path:
        return self.airflow_home or self.data_dir / "airflow"

    @property
    def resolved_c2pa_cert_dir(self) -> Path:
        return self.c2pa_cert_dir or self.data_dir / "c2pa"

    @property
    def resolved_spleeter_python(self) -> Path:
        return self.spleeter_python or Path(__file__).resolve().parents[2] / ".venv-spleeter" / "bin" / "python"

    @property
    def resolved_dags_dir(self) -> Path:
        return self.dags_dir or Path(__file__).resolve().parents[2] / "dags"

    def mt_order_for(self, source: str, target: str) -> list[str]:
        """Translation engines to try for source->target, in order (only enabled ones)."""
        order = self.mt_order.get(f"{source}-{target}") or self.mt_order.get("*") or self.mt_engines
        return [e for e in order if e in self.mt_engines] or list(self.mt_engines)

    def tts_order(self, language: str) -> list[str]:
        return self.tts_preference.get(language) or self.tts_preference.get("*") or ["espeak"]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    """Forget the cached settings (tests, and the CLI after it changes the environment)."""
    get_settings.cache_clear()
