"""Speed profiles: named sets of engine choices and QA depth (`--profile`, DUBLINE_PROFILE; default balanced).

A profile only sets what the operator did not: a setting given explicitly (a DUBLINE_* variable, a
Settings(...) argument) always wins over the profile's value. `balanced` is today's defaults; `fast` trades
quality for speed where the figures of `make bench` say it pays; `best` runs every check and retry.
"""

from __future__ import annotations

from typing import Any

PROFILE_NAMES = ("fast", "balanced", "best")
DEFAULT_PROFILE = "balanced"

# settings each profile sets (when the operator did not), by Settings field name
PROFILES: dict[str, dict[str, Any]] = {
    "fast": {
        # Apertium (rule-based, ~50 lines/s) where it has the pair; the LLM only where Apertium has none
        "mt_order": {"*": ["apertium", "llm"]},
        # Piper (English) and Pico: several times faster than Kokoro on 2 cores, less natural
        "tts_preference": {"en": ["piper", "pico", "kokoro", "espeak"], "*": ["pico", "kokoro", "espeak"]},
        "separation": "dsp",  # mid/side and spectral DSP instead of Spleeter's network
        "qa_scope": "changed",  # re-hear only the lines the timing ladder changed a lot
        "asr_beam_size": 1,  # greedy decoding
        "asr_language_check": False,  # no per-window language detection (one encoder pass per 15 s)
    },
    "balanced": {},
    "best": {
        "qa_scope": "all",
        "qa_retries": 3,
        "denoise": "auto",
    },
}

SUMMARY: dict[str, str] = {
    "fast": "Apertium where it has the pair, Piper/Pico voices, DSP separation, greedy ASR without the language "
    "check, QA of changed lines",
    "balanced": "LLM translation, Kokoro voices, Spleeter separation, QA of every line",
    "best": "LLM translation, Kokoro voices, Spleeter, denoise when noisy, QA of every line with 3 retries",
}


def check_profile(name: str) -> str:
    """The profile name, normalised; an unknown name raises ValueError naming the choices."""
    value = (name or "").strip().lower() or DEFAULT_PROFILE
    if value not in PROFILES:
        raise ValueError(f"unknown profile {name!r}: choose one of {', '.join(PROFILE_NAMES)}")
    return value


def profile_values(name: str, explicit: set[str]) -> dict[str, Any]:
    """What profile `name` sets, less the settings given explicitly (`explicit`)."""
    return {k: v for k, v in PROFILES[check_profile(name)].items() if k not in explicit}
