"""Checks of a machine translation that need no model: language, numbers, names, commentary, length.

Light heuristics on purpose (no language-ID model): a stopword ratio per language tells Spanish from
English well on a sentence of four words or more; shorter lines are not judged. Used to validate what an
LLM translator returns before it is accepted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pipeline.text.translation.glossary import contains_term, fold

CHECK_VERSION = "2"  # the rules below; part of the LLM cache key (an outcome is a rendering that passed them)

# Frequent function words per language (lower case; elided French forms keep their apostrophe).
_STOPWORDS: dict[str, str] = {
    "en": "the a an and or but is are was were be been being have has had do does did not no to of in on at for "
    "with from by this that these those it i you he she we they me him her us them my your his our their what "
    "where when why how who will would can could should there here if so just all yes don't i'm it's can't "
    "won't let's about up out than then very too been into over because",
    "es": "el la los las un una unos unas y o pero es son está están estaba fue ser estar ha he has han hay no "
    "sí que de del en a al con por para sin este esta esto ese esa eso yo tú él ella nosotros ellos me te se "
    "nos le lo les mi tu su mis tus sus qué dónde cuándo cómo quién muy más también ya aquí si porque como "
    "todo nada cuando hasta desde era estoy estás vamos",
    "fr": "le la les un une des du de et ou mais est sont était être avoir a ai as ont pas ne n' que qui quoi "
    "dans en sur pour avec sans par ce cette ces c' je j' tu il elle nous vous ils elles me m' te t' se s' "
    "moi toi lui leur mon ton son ma ta sa mes tes ses notre votre où quand pourquoi comment très plus aussi "
    "déjà ici si tout rien on y au aux l' d' qu' suis es sommes êtes va vais",
    "de": "der die das den dem des ein eine einen einem einer und oder aber ist sind war waren sein haben hat "
    "habe hast nicht kein keine zu von mit in im auf an am für aus bei nach vor über dieser diese dieses ich "
    "du er sie es wir ihr mich dich mir dir ihm uns euch mein dein unser was wo wann warum wie wer sehr mehr "
    "auch schon hier wenn weil dass alles nichts noch doch ja nein zum zur bin bist wird werden als so man nur "
    "mal jetzt kann muss will soll gibt etwas wieder immer ganz denn um durch ohne seit bis unter",
    "it": "il lo la i gli le un una e o ma è sono era essere avere ho hai ha hanno non che chi di del della in "
    "nel nella a al alla con per su da questo questa quello io tu lui lei noi voi loro mi ti si ci mio tuo suo "
    "cosa dove quando perché come molto più anche già qui se tutto niente sei siamo",
    "pt": "o a os as um uma e ou mas é são está era ser estar tem tenho não que de do da dos das em no na com "
    "por para sem este esta isso isto eu você ele ela nós eles me te se lhe meu minha seu sua onde quando "
    "porque como quem muito mais também já aqui tudo nada estou vamos",
    "ca": "el la els les un una i o però és són està era ser estar ha he han hi no que de del en a al amb per "
    "sense aquest aquesta això jo tu ell ella nosaltres ells em et es ens meu teu seu què on quan com qui "
    "molt més també ja aquí si perquè tot res",
    "nl": "de het een en of maar is zijn was waren hebben heeft heb niet geen te van met in op aan voor uit bij "
    "naar dit deze dat die ik jij je hij zij ze wij we mij me jou hem ons mijn jouw wat waar wanneer waarom "
    "hoe wie heel meer ook al hier als omdat alles niets",
}
STOPWORDS: dict[str, frozenset[str]] = {k: frozenset(v.split()) for k, v in _STOPWORDS.items()}

# Words written with a capital in English that are not names (and are translated): never "names to keep".
_NOT_NAMES = frozenset(
    "i i'm i'll i've i'd ok okay mr mrs ms dr sir madam monday tuesday wednesday thursday friday saturday sunday "
    "january february march april may june july august september october november december english spanish "
    "french german italian portuguese catalan dutch japanese chinese russian arabic european american british "
    "christmas easter god mum mom dad captain doctor professor king queen president mister miss lady lord "
    "england spain france germany italy europe america london".split()
)

_COMMENTARY = re.compile(
    r"(?i)^(here is|here's|sure|certainly|of course,? here|the translation|translation\b|translated\b|note\b|"
    r"as an ai|voici|voilà la|aquí (está|tienes)|la traducci[oó]n|traducci[oó]n\b|la traduction|traduction\b|"
    r"hier ist|die übersetzung|übersetzung\b)"
    r"|\(\s*(note|nota|remarque|anmerkung)\b|\b(note|nota|remarque|anmerkung)\s*:"
    r"|\b(i hope this|let me know|in (spanish|french|german|english)\b|literally|literal translation|"
    r"the (original|source) (line|text|sentence)|this translation|translation:|traducci[oó]n:|traduction\s?:|"
    r"übersetzung:)"
)
_TRANSLATE_WORDS = ("translat", "traduc", "traduz", "übersetz")
_QUOTES = [('"', '"'), ("“", "”"), ("«", "»"), ("'", "'"), ("„", "“"), ("‘", "’"), ("« ", " »")]
_LABEL = re.compile(
    r"^\s*(translation|traducci[oó]n|traduction|übersetzung|english|spanish|french|german|italian|portuguese|"
    r"catalan|dutch|español|castellano|français|deutsch|italiano|português|català|nederlands|line)\s*:\s*",
    re.I,
)
_DIGITS = re.compile(r"\d+")
_WORD = re.compile(r"[^\W\d_]+'|[^\W\d_]+(?:'[^\W\d_]+)?")
_VOWELS = "aeiouyàáâãäåèéêëìíîïòóôõöùúûüýÿæœ"


def tokens(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("’", "'"))


def language_scores(text: str) -> dict[str, float]:
    """Share of the text's words that are function words of each language."""
    words = tokens(text)
    if not words:
        return {k: 0.0 for k in STOPWORDS}
    return {lang: sum(1 for w in words if w in sw) / len(words) for lang, sw in STOPWORDS.items()}


def looks_like(text: str, language: str, other: str | None = None) -> bool:
    """False when the text reads clearly as another language than `language`: the source language (`other`)
    or English (what a small LLM falls back to) are judged more strictly than the rest. Texts under four
    words, and languages without a stopword list, pass: there is too little to judge."""
    if language not in STOPWORDS or len(tokens(text)) < 4:
        return True
    scores = language_scores(text)
    mine = scores[language]
    for rival, theirs in scores.items():
        if rival == language:
            continue
        likely = rival in (other, "en")  # an untranslated echo, or the model's own default language
        if theirs >= (0.2 if likely else 0.3) and mine < (0.7 if likely else 0.5) * theirs:
            return False
    return True


def numbers_in(text: str) -> list[str]:
    return _DIGITS.findall(text)


def roman(n: int) -> str:
    out = ""
    for value, letters in (
        (1000, "M"),
        (900, "CM"),
        (500, "D"),
        (400, "CD"),
        (100, "C"),
        (90, "XC"),
        (50, "L"),
        (40, "XL"),
        (10, "X"),
        (9, "IX"),
        (5, "V"),
        (4, "IV"),
        (1, "I"),
    ):
        while n >= value:
            out, n = out + letters, n - value
    return out


def missing_numbers(source: str, output: str) -> list[str]:
    """Digit groups of the source that the output lacks ('7:45' ~ '7 h 45'; '1,000' ~ '1000'; '21st century'
    ~ 'siglo XXI')."""
    out = numbers_in(output)
    joined = "".join(out)
    words = set(re.findall(r"[IVXLCDM]+", output))
    missing: list[str] = []
    for n in numbers_in(source):
        if n in out:
            out.remove(n)
        elif n not in joined and not (0 < int(n) < 4000 and roman(int(n)) in words):
            missing.append(n)
    return missing


def likely_names(text: str, language: str) -> list[str]:
    """Capitalised words inside a sentence (not after . ! ? :), minus function words and the _NOT_NAMES list.
    Empty for German, which capitalises every noun."""
    if language == "de":
        return []
    names: list[str] = []
    for m in re.finditer(r"[^\W\d_][\w'’.-]*", text):
        word = m.group(0).rstrip(".")
        before = text[: m.start()].rstrip()
        if not word[:1].isupper() or not before or before[-1] in '.!?:;"“«¿¡—-':
            continue
        low = word.lower().replace("’", "'")
        if low in _NOT_NAMES or low.rstrip("s") in _NOT_NAMES or low in STOPWORDS.get(language, frozenset()):
            continue
        names.append(word)
    return names


def _has_name(output: str, name: str) -> bool:
    o, n = fold(output), fold(name)
    return n in o or (len(n) >= 5 and n[:4] in o)


def clean_output(text: str, source: str) -> str:
    """Strip what wraps a translation without being part of it: whitespace, a 'Spanish:' label, quotes
    that the source did not have."""
    out = text.strip()
    out = _LABEL.sub("", out, count=1).strip()
    src = source.strip()
    for left, right in _QUOTES:
        if len(out) > 2 and out.startswith(left) and out.endswith(right) and not src.startswith(left.strip()):
            out = out[len(left) : len(out) - len(right)].strip()
            break
    return out


def count_syllables(text: str, language: str = "en") -> int:
    """Rough syllable count: vowel groups per word (silent final e in English and French dropped);
    a number counts one syllable per digit."""
    total = 0
    for word in re.findall(r"[^\W\d_]+|\d+", text.lower()):
        if word.isdigit():
            total += len(word)
            continue
        groups = re.findall(f"[{_VOWELS}]+", word)
        n = len(groups)
        if language == "fr" and n > 1 and re.search(r"(e|es|ent)$", word):
            n -= 1
        elif language == "en" and n > 1 and word.endswith("e") and not word.endswith(("le", "ee")):
            n -= 1
        total += max(n, 1)
    return total


def measure(text: str, unit: str, language: str) -> int:
    return count_syllables(text, language) if unit == "syllables" else len(text)


@dataclass
class Check:
    """What is wrong with a rendering: `problems` reject it; `warnings` ask for a retry but do not reject;
    `over_budget` says the length budget was not met."""

    text: str
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    over_budget: bool = False
    length: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def score(self) -> tuple[int, int, int, int]:
        """Lower is better: problems, warnings, over budget, length."""
        return len(self.problems), len(self.warnings), int(self.over_budget), self.length


def validate(
    output: str,
    source_text: str,
    source: str,
    target: str,
    keep: list[str] | None = None,
    fixed: list[tuple[str, str]] | None = None,
    budget: int | None = None,
    unit: str = "chars",
) -> Check:
    """Check one rendering of `source_text` (already cleaned with clean_output)."""
    text = output.strip()
    check = Check(text)
    p = check.problems
    if not text:
        p.append("the answer is empty")
        return check
    if "\n" in text or "\r" in text or "\u2028" in text:
        p.append("the answer has more than one line")
    low = text.lower()
    if _COMMENTARY.search(text) or (
        any(w in low for w in _TRANSLATE_WORDS) and not any(w in source_text.lower() for w in _TRANSLATE_WORDS)
    ):
        p.append("the answer has a comment besides the translation")
    if "(" in text and "(" not in source_text:
        p.append("the answer adds a note in brackets")
    if not looks_like(text, target, other=source):
        p.append(f"the answer is not in the target language ({target})")
    elif (
        source != target
        and fold(text).strip(" .!?") == fold(source_text).strip(" .!?")
        and len(tokens(source_text)) >= 3
    ):
        p.append("the answer repeats the line untranslated")
    for n in missing_numbers(source_text, text):
        p.append(f"the number {n} is missing")
    for name in keep or []:
        if not contains_term(text, name):
            p.append(f"the name {name!r} must appear unchanged")
    for src, tgt in fixed or []:
        if not contains_term(text, tgt):
            p.append(f"{src!r} must be rendered as {tgt!r}")
    n_src, n_out = len(source_text.strip()), len(text)
    if n_src >= 12 and (n_out > 3 * n_src + 20 or n_out < 0.25 * n_src):
        p.append("the answer's length is far from the line's")
    glossary_names = {fold(k) for k in keep or []}
    for name in likely_names(source_text, source):
        if fold(name) not in glossary_names and not _has_name(text, name):
            check.warnings.append(f"the name {name!r} seems to be missing")
    check.length = measure(text, unit, target)
    check.over_budget = budget is not None and check.length > budget
    return check
