"""Prompts for translating one dialogue line with an instruction-tuned LLM, and their cache keys.

One line per request, in chat form: a system message that fixes the task and the output format, one
worked example (source and target language) that shows the format, then the line with its neighbours as
context, the glossary entries that apply to it and, optionally, a length budget. The system message and
the example do not depend on the line, so llama.cpp reuses their evaluated prefix from one line to the
next. PROMPT_VERSION changes whenever the wording changes: it is part of every cache key and of provenance.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from pipeline.text.translation.checks import CHECK_VERSION

PROMPT_VERSION = "mt-llm-1"

LANGUAGE_NAMES: dict[str, str] = {
    "en": "English",
    "es": "Spanish",
    "fr": "French",
    "de": "German",
    "it": "Italian",
    "pt": "Portuguese",
    "ca": "Catalan",
    "nl": "Dutch",
    "pl": "Polish",
    "ru": "Russian",
    "ja": "Japanese",
    "zh": "Chinese",
}

# The worked example: (previous line, line) in each source language, and the line in each target language.
_EXAMPLE_BEFORE: dict[str, str] = {
    "en": "I have to go now.",
    "es": "Ahora me tengo que ir.",
    "fr": "Je dois y aller maintenant.",
    "de": "Ich muss jetzt los.",
    "it": "Ora devo andare.",
    "pt": "Agora tenho de ir.",
    "ca": "Ara me n'he d'anar.",
}
_EXAMPLE_LINE: dict[str, str] = {
    "en": "We'll meet at the station at 8, okay?",
    "es": "Nos vemos en la estación a las 8, ¿vale?",
    "fr": "On se retrouve à la gare à 8 heures, d'accord ?",
    "de": "Wir treffen uns um 8 am Bahnhof, okay?",
    "it": "Ci vediamo alla stazione alle 8, va bene?",
    "pt": "Encontramo-nos na estação às 8, está bem?",
    "ca": "Ens veiem a l'estació a les 8, d'acord?",
}


def example_answer(source: str, target: str) -> str | None:
    """The worked example's answer for this pair (an answer equal to it is the example repeated)."""
    return _EXAMPLE_LINE.get(target) if source in _EXAMPLE_LINE and source in _EXAMPLE_BEFORE else None


def example_source(source: str) -> str:
    return _EXAMPLE_LINE.get(source, "")


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code, code)


@dataclass(frozen=True)
class LineRequest:
    """Everything a rendering of one line depends on (and so everything its cache key holds)."""

    text: str
    source: str
    target: str
    before: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    keep: tuple[str, ...] = ()
    fixed: tuple[tuple[str, str], ...] = ()
    budget: int | None = None
    unit: str = "chars"  # chars | syllables

    def key(self, model_sha256: str) -> str:
        doc = {
            "prompt": PROMPT_VERSION,
            "check": CHECK_VERSION,
            "model": model_sha256,
            "pair": [self.source, self.target],
            "text": self.text,
            "context": [list(self.before), list(self.after)],
            "glossary": [list(self.keep), [list(f) for f in self.fixed]],
            "budget": [self.budget, self.unit] if self.budget is not None else None,
        }
        return hashlib.sha256(json.dumps(doc, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


def system_message(source: str, target: str) -> str:
    s, t = language_name(source), language_name(target)
    return (
        f"You translate film and TV dialogue from {s} into {t} for dubbing. "
        f"The user sends one line to translate, sometimes with the lines around it as context. "
        f"Reply with the {t} translation of that one line only, on a single line: no quotes, no notes, "
        f"no explanations, nothing from the context lines. Keep names and numbers as they are. "
        f"Write natural, spoken {t}."
    )


def _user_message(
    text: str,
    before: tuple[str, ...] = (),
    after: tuple[str, ...] = (),
    keep: tuple[str, ...] = (),
    fixed: tuple[tuple[str, str], ...] = (),
    budget: int | None = None,
    unit: str = "chars",
    source_length: int = 0,
) -> str:
    parts: list[str] = []
    for line in before:
        parts.append(f"Previous line (context only): {line}")
    for line in after:
        parts.append(f"Next line (context only): {line}")
    if fixed:
        parts.append("Glossary: " + "; ".join(f'translate "{s}" as "{t}"' for s, t in fixed) + ".")
    if keep:
        parts.append("Keep these names exactly as written: " + ", ".join(f'"{k}"' for k in keep) + ".")
    if budget is not None:
        what = "syllables" if unit == "syllables" else "characters"
        parts.append(
            f"Length: at most {budget} {what} (the line has {source_length}). "
            "Say it more briefly if needed, keeping the meaning."
        )
    parts.append(f"Line to translate: {text}")
    return "\n".join(parts)


def build_messages(req: LineRequest, source_length: int | None = None) -> list[dict[str, str]]:
    """The chat messages for one line."""
    messages = [{"role": "system", "content": system_message(req.source, req.target)}]
    ex_src, ex_tgt = _EXAMPLE_LINE.get(req.source), _EXAMPLE_LINE.get(req.target)
    ex_before = _EXAMPLE_BEFORE.get(req.source)
    if ex_src and ex_tgt and ex_before:
        messages.append({"role": "user", "content": _user_message(ex_src, before=(ex_before,))})
        messages.append({"role": "assistant", "content": ex_tgt})
    messages.append(
        {
            "role": "user",
            "content": _user_message(
                req.text,
                req.before,
                req.after,
                req.keep,
                req.fixed,
                req.budget,
                req.unit,
                source_length if source_length is not None else len(req.text),
            ),
        }
    )
    return messages


def retry_messages(
    req: LineRequest, previous: str, problems: list[str], source_length: int | None = None
) -> list[dict[str, str]]:
    """The first messages, the rejected answer, and what was wrong with it."""
    t = language_name(req.target)
    what = "; ".join(problems)
    return [
        *build_messages(req, source_length),
        {"role": "assistant", "content": previous},
        {
            "role": "user",
            "content": f"Not quite: {what}. Reply again with only the {t} translation of the line, on one line.",
        },
    ]
