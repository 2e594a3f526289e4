"""Checks of LLM translations without a model (checks.py) and glossaries (glossary.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.text.translation.checks import (
    clean_output,
    count_syllables,
    language_scores,
    likely_names,
    looks_like,
    missing_numbers,
    validate,
)
from pipeline.text.translation.glossary import Glossary, GlossaryError, load, parse

SRC = "The train to Madrid leaves at 7:45 from platform 3."
GOOD_ES = "El tren a Madrid sale a las 7:45 del andén 3."


def test_a_good_translation_passes() -> None:
    check = validate(GOOD_ES, SRC, "en", "es")
    assert check.ok and not check.warnings and not check.over_budget
    assert check.length == len(GOOD_ES)


@pytest.mark.parametrize(
    ("output", "problem"),
    [
        ("Here is the translation: El tren a Madrid sale a las 7:45 del andén 3.", "comment"),
        ("El tren a Madrid sale a las 7:45 del andén 3. (Note: 'platform' is 'andén'.)", "comment"),
        ("El tren a Madrid sale a las 7:45 del andén 3.\nEspero que te sirva.", "more than one line"),
        ("The train to Madrid leaves at 7:45 from platform 3.", "not in the target language"),
        ("Le train pour Madrid part à 7 h 45 du quai 3.", "not in the target language"),
        ("El tren a Madrid sale a las 7:45 del andén.", "number 3 is missing"),
        ("El tren a Madrid sale por la mañana del andén 3.", "number 45 is missing"),
        ("", "empty"),
        ("El tren.", "length"),
    ],
)
def test_rejections(output: str, problem: str) -> None:
    check = validate(output, SRC, "en", "es")
    assert not check.ok
    assert any(problem in p for p in check.problems), check.problems


def test_numbers_tolerate_other_separators() -> None:
    assert missing_numbers("It costs 1,000 euros at 7:45.", "Cuesta 1000 euros a las 7 h 45.") == []
    assert missing_numbers("Call 555 now", "Llama ya") == ["555"]


def test_names_are_checked_tolerantly() -> None:
    assert likely_names("He has lived in Berlin since 2015 with Anna.", "en") == ["Berlin", "Anna"]
    assert likely_names("The museum is closed on Mondays.", "en") == []
    assert likely_names("Ich habe den Hund gesehen.", "de") == []
    ok = validate("Vive en Berlín desde 2015 con Anna.", "He has lived in Berlin since 2015 with Anna.", "en", "es")
    assert ok.ok and not ok.warnings  # 'Berlín' keeps the name
    lost = validate(
        "Vive en la capital desde 2015 con ella.", "He has lived in Berlin since 2015 with Anna.", "en", "es"
    )
    assert lost.ok and len(lost.warnings) == 2  # a warning (retried), not a rejection


def test_glossary_names_and_terms_are_hard_requirements() -> None:
    src = "Dr. Okafor finished the dubbing yesterday."
    out = "La doctora terminó el doblaje ayer."
    check = validate(out, src, "en", "es", keep=["Dr. Okafor"], fixed=[("dubbing", "doblaje")])
    assert any("Okafor" in p for p in check.problems)
    check = validate(
        "Dr. Okafor terminó la sincronización ayer.", src, "en", "es", ["Dr. Okafor"], [("dubbing", "doblaje")]
    )
    assert any("doblaje" in p for p in check.problems)
    assert validate("Dr. Okafor terminó el doblaje ayer.", src, "en", "es", ["Dr. Okafor"], [("dubbing", "doblaje")]).ok


def test_untranslated_echo_is_rejected() -> None:
    check = validate("Where is Anna going?", "Where is Anna going?", "en", "de")
    assert not check.ok


def test_budget_is_soft() -> None:
    check = validate(GOOD_ES, SRC, "en", "es", budget=30)
    assert check.ok and check.over_budget
    syl = validate(GOOD_ES, SRC, "en", "es", budget=10, unit="syllables")
    assert syl.over_budget and syl.length == count_syllables(GOOD_ES, "es")


def test_clean_output_strips_labels_and_quotes() -> None:
    assert clean_output('  Spanish: "Hola, ¿qué tal?"  ', "Hello, how are you?") == "Hola, ¿qué tal?"
    assert clean_output("«Bonjour»", "Hello") == "Bonjour"
    assert clean_output('"Run!"', '"Run!" he said') == '"Run!"'  # the source is quoted: keep


def test_language_scores() -> None:
    scores = language_scores("Wir müssen über das reden, was gestern Abend passiert ist.")
    assert max(scores, key=lambda k: scores[k]) == "de"
    assert looks_like("Je ne suis pas celui que tu cherches.", "fr")
    assert not looks_like("No soy a quien buscas, de verdad que no.", "fr", other="es")
    assert not looks_like("I am not the one you are looking for.", "fr")  # English: the model's default
    assert looks_like("OK.", "de")  # too short to judge


def test_syllables() -> None:
    assert count_syllables("hello world", "en") == 3
    assert count_syllables("la casa es bonita", "es") == 7
    assert count_syllables("I have 25", "en") == 4


def test_glossary_formats(tmp_path: Path) -> None:
    tsv = "# names and terms\nen\tes\tfr\ndubbing\tdoblaje\tdoublage\nDr. Okafor\n"
    g = parse(tsv)
    assert g.keep == ("Dr. Okafor",)
    assert g.terms == ({"en": "dubbing", "es": "doblaje", "fr": "doublage"},)
    j = parse('{"keep": ["Dr. Okafor"], "terms": [{"en": "dubbing", "es": "doblaje", "fr": "doublage"}]}')
    assert j == g
    keep, fixed = g.for_line("Dr. Okafor loves DUBBING.", "en", "es")
    assert keep == ["Dr. Okafor"] and fixed == [("dubbing", "doblaje")]
    assert g.for_line("Nothing here.", "en", "de") == ([], [])
    f = tmp_path / "g.tsv"
    f.write_text(tsv)
    assert load(f) == g
    assert Glossary.from_dict(g.as_dict()) == g


@pytest.mark.parametrize(
    "text",
    ["{not json", '{"keep": "x"}', '{"terms": [1]}', "dubbing\tdoblaje\n", "en\tes\nx\ty\tz\n"],
)
def test_bad_glossaries(text: str) -> None:
    with pytest.raises(GlossaryError):
        parse(text)


def test_roman_numerals_keep_the_number() -> None:
    assert missing_numbers("Capital in the 21st Century", "Capital en el siglo XXI") == []
    assert missing_numbers("Capital in the 21st Century", "Capital en el siglo XX") == ["21"]
