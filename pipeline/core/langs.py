"""Language codes as users give them: one normalisation for the CLI, the DAG params and the stages."""

from __future__ import annotations

from collections.abc import Iterable


def normalize_language(code: str | None) -> str:
    """An ISO 639-1 code as dubline uses it: trimmed and lower-case ("" for none)."""
    return (code or "").strip().lower()


def language_list(values: Iterable[str]) -> list[str]:
    """Languages from repeated options or comma-separated lists, normalised, empty ones dropped, each once
    and in the order given: ["es, CA", "es"] -> ["es", "ca"]."""
    out: list[str] = []
    for value in values:
        for part in str(value).split(","):
            code = normalize_language(part)
            if code and code not in out:
                out.append(code)
    return out


def check_language(code: str) -> str:
    """`code` itself when it is a language tag (ISO 639-1 such as es, or es-MX); a ValueError naming it otherwise
    (a typo such as `--to xx` is refused before a run starts, not after transcription)."""
    import langcodes

    if not langcodes.tag_is_valid(code):
        raise ValueError(f"{code!r} is not a language code (write ISO 639-1, e.g. es, fr, de)")
    return code
