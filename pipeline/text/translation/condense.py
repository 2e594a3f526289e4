"""Saying a text in fewer characters, in the same language: audio descriptions that do not fit their gap.

Rules first (shorten.py's asides and abbreviations, then trailing subordinate clauses such as ", which ..."
or ", looking for ...", one at a time and never a whole sentence); the least-cut candidate within the budget
wins. When the rules cannot reach the budget, the chat LLM the translator uses (the same loaded llama.cpp
model) is asked for a shorter version with a fixed prompt, greedily. Its answer is checked (not empty, one
line, same language, shorter, within the budget or at most 10 % over it, and made of the description's own
words: a simple content-word overlap rejects invented facts), retried once with the reason, and cached
under a hash of (text, language, budget, model sha256, prompt version). Without the LLM (weights or runtime
not installed) or when its answers are rejected, the rules' best stands, flagged; and when that is still over
the budget, the last resort keeps the description's head: cut after its first sentences or before a comma,
semicolon, colon or dash, or before a word opening a clause or a phrase (flagged 'clauses-dropped';
descriptions say what matters first), else over budget.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from models.base import ChatModel, EngineError, GenerationError
from models.llama import LlamaChat
from pipeline.core.config import Settings
from pipeline.core.errors import ConfigError
from pipeline.text.translation.base import TranslationCache
from pipeline.text.translation.checks import STOPWORDS, clean_output, looks_like, tokens
from pipeline.text.translation.engines import _resolve_llm, get_translators, mt_cache
from pipeline.text.translation.glossary import fold
from pipeline.text.translation.llm import LLMTranslator
from pipeline.text.translation.prompt import language_name
from pipeline.text.translation.shorten import abbreviate, drop_asides, shortest_within

log = logging.getLogger(__name__)

CONDENSE_PROMPT_VERSION = "condense-1"  # the prompt and checks below; part of every cache key
RULES = "rules"  # Condensed.engine of a text the rules shortened (or left as it was)
OVER_TOLERANCE = 0.10  # an LLM answer up to 10 % over the budget is accepted, flagged 'over-budget'
MIN_OWN = 0.5  # at least this share of the answer's content words must come from the description
# and the answer must keep at least MIN_SHARED x (budget / length) of the description's content words: ~40 % of
# them when little must go, less when the budget asks for much shorter (a half-length budget: ~20 %)
MIN_SHARED = 0.4


@dataclass(frozen=True)
class Condensed:
    """A text said in fewer characters: the shorter text, what made it (the LLM's model id, or "rules"),
    the original, the budget, whether the text is within it, and flags ('no-llm', 'llm-rejected',
    'llm-error', 'over-budget')."""

    text: str
    engine: str
    original: str
    budget: int
    within: bool
    flags: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """What a report records (both texts)."""
        return {
            "original": self.original,
            "text": self.text,
            "engine": self.engine,
            "budget": self.budget,
            "within": self.within,
            "flags": list(self.flags),
        }


# --- rules ---------------------------------------------------------------------------------------

# Words that open a trailing subordinate clause after a comma or semicolon, per language.
_CLAUSE_WORDS: dict[str, str] = {
    "en": "which|who|whom|whose|where|while|as|before|after|because|although|though|until|when|and then|"
    "then|as if|so that|even as",
    "es": "que|quien|quienes|donde|mientras|cuando|porque|aunque|antes de|después de|y luego|hasta que",
    "fr": "qui|que|où|pendant que|tandis que|quand|lorsque|parce que|avant de|après|puis|alors que",
    "de": "der|die|das|den|dem|während|als|weil|wo|bevor|nachdem|obwohl|und dann|bis",
    "ca": "que|qui|on|mentre|quan|perquè|abans de|després de|i després",
}
# Participle/gerund clauses (", looking for someone", ", mirando", ", en regardant").
_GERUNDS: dict[str, str] = {
    "en": r"[^\W\d_]+ing",
    "es": r"[^\W\d_]+(?:ando|iendo|yendo)",
    "fr": r"en\s+[^\W\d_]+ant",
    "ca": r"[^\W\d_]+(?:ant|ent|int)",
}
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")
_MIN_HEAD_WORDS = 3  # a cut must leave a main clause of at least this many words


def _clause_boundary(language: str) -> re.Pattern[str]:
    alts = [rf"(?:{_CLAUSE_WORDS.get(language, _CLAUSE_WORDS['en'])})\b"]
    if language in _GERUNDS:
        alts.append(_GERUNDS[language] + r"\b")
    return re.compile(r"\s*;\s+\S|\s*,\s+(?:" + "|".join(alts) + ")", re.IGNORECASE)


def _cut_last_clause(sentence: str, language: str) -> str | None:
    """The sentence without its last trailing subordinate clause (end punctuation kept), or None."""
    end = sentence[-1] if sentence and sentence[-1] in ".!?…" else "."
    for m in reversed(list(_clause_boundary(language).finditer(sentence))):
        head = sentence[: m.start()].rstrip(" ,;:")
        if len(tokens(head)) >= _MIN_HEAD_WORDS:
            return head + end
    return None


def clause_cuts(text: str, language: str) -> list[str]:
    """Progressively shorter versions of `text`, each dropping one more trailing subordinate clause (the last
    sentence's first); every sentence is kept, with its end punctuation."""
    sentences = [s for s in _SENTENCE_END.split(text.strip()) if s]
    out: list[str] = []
    while True:
        for i in reversed(range(len(sentences))):
            cut = _cut_last_clause(sentences[i], language)
            if cut is not None:
                sentences[i] = cut
                out.append(" ".join(sentences))
                break
        else:
            return out


def rule_candidates(text: str, language: str) -> list[str]:
    """Shorter versions of `text` by rules, in order of preference (least changed first)."""
    plain = drop_asides(text, language)
    candidates = [abbreviate(text, language), abbreviate(plain, language)]
    candidates += [abbreviate(c, language) for c in clause_cuts(plain, language)]
    return [c for c in dict.fromkeys(candidates) if c]


_ANY_CLAUSE = re.compile(r"\s*[,;:\u2014\u2013]\s+|\s+-\s+")
# Words that open a phrase a head may be cut before, besides punctuation (a relative clause, a prepositional
# phrase: "a print shop | where one man inks the type | with two leather balls").
_PHRASE_WORDS: dict[str, str] = {
    "en": "where|while|which|who|whose|with|without|in|on|at|from|by|for|as|under|behind|beside|near",
    "es": "donde|mientras|que|quien|con|sin|en|desde|por|para|bajo|tras|junto",
    "fr": "où|pendant|qui|que|avec|sans|dans|sur|par|pour|sous|derrière|près",
    "de": "wo|während|der|die|das|mit|ohne|in|auf|von|für|unter|hinter|neben",
    "ca": "on|mentre|que|qui|amb|sense|en|per|sota|darrere",
}


def head_cuts(text: str, language: str = "en") -> list[str]:
    """The last resort, least meaning kept: `text` cut after its first sentences, or before a comma,
    semicolon, colon or dash, or before a word that opens a clause or a phrase (whatever follows), longest
    first; each head keeps at least _MIN_HEAD_WORDS words. Descriptions put what matters first, so the head is
    what is kept."""
    plain = " ".join(text.split())
    sentences = [x for x in _SENTENCE_END.split(plain) if x]
    heads = [" ".join(sentences[:k]) for k in range(len(sentences) - 1, 0, -1)]
    words = _PHRASE_WORDS.get(language, _PHRASE_WORDS["en"])
    phrase = re.compile(rf"\s+(?=(?:{words})\b)", re.IGNORECASE)
    for m in [*_ANY_CLAUSE.finditer(plain), *phrase.finditer(plain)]:
        head = plain[: m.start()].rstrip(" ,;:-\u2014\u2013")
        if len(tokens(head)) >= _MIN_HEAD_WORDS:
            heads.append(head if head[-1] in ".!?\u2026" else head + ".")
    return sorted(dict.fromkeys(heads), key=len, reverse=True)


def condense_by_rules(text: str, language: str, budget: int) -> str:
    """The least-changed rule candidate within the budget, else the shortest of them."""
    return shortest_within(rule_candidates(text, language), budget)


# --- checks --------------------------------------------------------------------------------------


def _stem(word: str) -> str:
    """Crude stem for overlap counting ('walks', 'walking', 'walked' -> 'walk')."""
    w = fold(word).strip("'")
    return w[: max(4, len(w) - 3)]


def content_words(text: str, language: str) -> set[str]:
    stop = STOPWORDS.get(language, STOPWORDS["en"])
    return {_stem(w) for w in tokens(text) if w not in stop and len(w) > 1}


def check_answer(answer: str, original: str, language: str, budget: int) -> list[str]:
    """What is wrong with an LLM's shorter version of `original` (empty when it is acceptable)."""
    if not answer:
        return ["the answer is empty"]
    problems: list[str] = []
    if "\n" in answer or "\r" in answer:
        problems.append("the answer has more than one line")
    if re.match(r"(?i)(here is|here's|sure|certainly|shortened|short version|answer)\b", answer) or re.search(
        r"(?i)\bcharacters?\b", answer
    ):
        problems.append("the answer has a comment besides the description")
    if len(answer) >= len(original):
        problems.append("the answer is not shorter than the description")
    elif len(answer) > budget * (1 + OVER_TOLERANCE):
        problems.append(f"it has {len(answer)} characters but may have at most {budget}: say it in fewer words")
    if not looks_like(answer, language):
        problems.append(f"the answer is not in {language_name(language)}")
    orig, mine = content_words(original, language), content_words(answer, language)
    shared = orig & mine
    if mine and len(shared) < MIN_OWN * len(mine):
        new = sorted(w for w in tokens(answer) if _stem(w) in mine - orig)
        problems.append("the answer adds words the description does not have (" + ", ".join(new[:5]) + ")")
    if orig and len(shared) < MIN_SHARED * min(1.0, budget / len(original)) * len(orig):
        problems.append("the answer leaves out too much: keep who, what and where, with the description's words")
    return problems


# --- prompt --------------------------------------------------------------------------------------

SYSTEM = (
    "You shorten audio descriptions of films for blind and partially sighted viewers. The user sends one "
    "description and a character limit. Rewrite it shorter, in the same language: keep who, what and where; "
    "use the present tense; add no new facts, names or details; drop adjectives and adverbs first. Answer "
    "with the shortened description only, on one line: no quotes, no notes."
)
# One worked example per language: (description, shortened description).
_EXAMPLES: dict[str, tuple[str, str]] = {
    "en": (
        "A tall man in a grey suit slowly opens the heavy wooden door of the old church.",
        "A man in a grey suit opens the church door.",
    ),
    "es": (
        "Un hombre alto con traje gris abre despacio la pesada puerta de madera de la vieja iglesia.",
        "Un hombre con traje gris abre la puerta de la iglesia.",
    ),
    "fr": (
        "Un grand homme en costume gris ouvre lentement la lourde porte en bois de la vieille église.",
        "Un homme en costume gris ouvre la porte de l'église.",
    ),
    "de": (
        "Ein großer Mann im grauen Anzug öffnet langsam die schwere Holztür der alten Kirche.",
        "Ein Mann im grauen Anzug öffnet die Kirchentür.",
    ),
}


def _request(text: str, language: str, budget: int) -> str:
    return (
        f"Language: {language_name(language)}\n"
        f"Limit: at most {budget} characters (the description has {len(text)}).\n"
        f"Description: {text}"
    )


def build_messages(text: str, language: str, budget: int) -> list[dict[str, str]]:
    """The chat messages asking for a version of `text` within `budget` characters."""
    messages = [{"role": "system", "content": SYSTEM}]
    if language in _EXAMPLES:
        long, short = _EXAMPLES[language]
        messages.append({"role": "user", "content": _request(long, language, len(short) + 2)})
        messages.append({"role": "assistant", "content": short})
    messages.append({"role": "user", "content": _request(text, language, budget)})
    return messages


def retry_messages(
    text: str, language: str, budget: int, previous: str, problems: list[str]
) -> list[dict[str, str]]:
    return [
        *build_messages(text, language, budget),
        {"role": "assistant", "content": previous},
        {
            "role": "user",
            "content": f"Not quite: {'; '.join(problems)}. Reply again with only the shortened description, "
            f"at most {budget} characters, on one line.",
        },
    ]


def cache_key(text: str, language: str, budget: int, model_sha256: str) -> str:
    doc = {"prompt": CONDENSE_PROMPT_VERSION, "model": model_sha256, "lang": language, "text": text, "budget": budget}
    return hashlib.sha256(json.dumps(doc, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


# --- the condenser -------------------------------------------------------------------------------


class Condenser:
    """Shortens texts with rules and, where they fall short, with `model` (None: rules only)."""

    def __init__(self, model: ChatModel | None, cache: TranslationCache | None = None, head_cut: bool = True) -> None:
        self.model = model
        self.cache = cache
        self.head_cut = head_cut  # when nothing else fits: cut the text after a clause (see head_cuts)

    def condense(self, text: str, language: str, budget: int) -> Condensed:
        if budget < 1:
            raise ValueError(f"a character budget must be positive, not {budget}")
        if len(text) <= budget:
            return Condensed(text, RULES, text, budget, True)
        plain = " ".join(text.split())
        by_rules = condense_by_rules(plain, language, budget)
        if len(by_rules) <= budget:
            return Condensed(by_rules, RULES, text, budget, True)
        if self.model is None:
            return self._rules_best(by_rules, text, budget, "no-llm", language)
        try:
            outcome = self._outcome(plain, language, budget)
        except GenerationError as e:  # this text only
            log.warning("condensing %r with the LLM failed: %s", plain[:60], e)
            return self._rules_best(by_rules, text, budget, "llm-error", language)
        except EngineError as e:  # the model cannot load: rules only from now on
            log.warning("the LLM cannot shorten descriptions here (%s); using rules only", e)
            self.model = None
            return self._rules_best(by_rules, text, budget, "no-llm", language)
        if not outcome["ok"]:
            log.warning("LLM shortening of %r rejected: %s", plain[:60], "; ".join(outcome["problems"]))
            return self._rules_best(by_rules, text, budget, "llm-rejected", language)
        short = str(outcome["text"])
        within = len(short) <= budget
        return Condensed(short, self.model.info.id, text, budget, within, () if within else ("over-budget",))

    def _rules_best(self, best: str, original: str, budget: int, why: str, language: str = "en") -> Condensed:
        within = len(best) <= budget
        if not within and self.head_cut:  # the last resort: the description's head, within the budget
            head = next((h for h in head_cuts(best, language) if len(h) <= budget), None)
            if head is not None:
                return Condensed(head, RULES, original, budget, True, (why, "clauses-dropped"))
        return Condensed(best, RULES, original, budget, within, (why,) if within else (why, "over-budget"))

    def _outcome(self, text: str, language: str, budget: int) -> dict[str, Any]:
        """The cached or freshly generated LLM outcome: text, ok, problems."""
        assert self.model is not None
        key = cache_key(text, language, budget, self.model.info.sha256 or str(self.model.model_path))
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                try:
                    doc: dict[str, Any] = json.loads(hit)
                    if {"text", "ok", "problems"} <= doc.keys():
                        return doc
                except ValueError:
                    pass
        doc = self._ask(text, language, budget)
        if self.cache is not None:
            self.cache.put(key, json.dumps(doc, ensure_ascii=False))
        return doc

    def _ask(self, text: str, language: str, budget: int) -> dict[str, Any]:
        assert self.model is not None
        self.model.load()
        max_tokens = budget // 2 + 32
        first_raw = self.model.generate(build_messages(text, language, budget), max_tokens, stop=["\n"])
        first = clean_output(first_raw, text)
        tries = [(first, check_answer(first, text, language, budget))]
        if tries[0][1]:
            messages = retry_messages(text, language, budget, first_raw.strip() or "(empty)", tries[0][1])
            second = clean_output(self.model.generate(messages, max_tokens, stop=["\n"]), text)
            tries.append((second, check_answer(second, text, language, budget)))
        best, problems = min(tries, key=lambda t: (len(t[1]), len(t[0]) > budget, len(t[0])))
        return {"text": best, "ok": not problems, "problems": problems, "attempts": len(tries)}


# --- from settings -------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _llama_chat(path: str, model_id: str, version: str, sha: str, ctx: int, threads: int) -> LlamaChat:
    return LlamaChat(Path(path), model_id, version, sha, ctx, threads)


def chat_model(settings: Settings) -> ChatModel:
    """The chat LLM the translator uses: the LLM translator's own model when it is enabled, else the same
    weights through models.llama (whose process cache holds one loaded copy per file, context and threads).
    ConfigError for a custom model path that is not a file."""
    for translator in get_translators(settings):
        if isinstance(translator, LLMTranslator):
            return translator.model
    path, model_id, version, sha = _resolve_llm(settings)
    return _llama_chat(str(path), model_id, version, sha, settings.mt_llm_ctx, settings.mt_llm_threads)


def condenser(settings: Settings) -> Condenser:
    """A Condenser with the translator's LLM and the translation cache, or rules only when the LLM's weights
    or runtime are not installed here."""
    try:
        model: ChatModel | None = chat_model(settings)
    except (EngineError, ConfigError) as e:
        log.warning("no LLM to shorten descriptions (%s); using rules only", e)
        model = None
    if model is not None and not model.available():
        log.info("the LLM's weights or runtime are not installed; shortening descriptions by rules only")
        model = None
    cache = mt_cache(settings) if model is not None and settings.mt_cache else None
    return Condenser(model, cache)


def condense(settings: Settings, text: str, language: str, budget_chars: int) -> Condensed:
    """`text` within `budget_chars` characters, in the same language (unchanged when it already fits)."""
    return condense_many(settings, [(text, budget_chars)], language)[0]


def condense_many(settings: Settings, items: list[tuple[str, int]], language: str) -> list[Condensed]:
    """condense() for each (text, budget) pair; the LLM is looked up once, and only when the rules fall short."""
    rules_only = Condenser(None, head_cut=False)
    out = [rules_only.condense(text, language, budget) for text, budget in items]
    short = [i for i, c in enumerate(out) if not c.within]
    if short:
        c = condenser(settings)  # the LLM, and the head cut where it fails too (or rules only, and the head cut)
        for i in short:
            text, budget = items[i]
            out[i] = c.condense(text, language, budget)
    return out
