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
