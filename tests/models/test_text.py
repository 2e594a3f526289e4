"""The word error rate of what a recogniser heard (models.text.heard_wer): its normalisation (numbers and
symbols spelled out, case, punctuation, compounds), number spelling, and the text given to a TTS engine on a
retry (normalise_for_speech)."""

from __future__ import annotations

import pytest

from models.text import heard_wer, normalise_for_speech, spell_number

# --- WER normalisation ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("intended", "heard", "language"),
    [
        ("Hello, World!", "hello world", "en"),
        ("¿Cómo estás? ¡Bien!", "cómo estás bien", "es"),
        ("Tengo 20 años.", "Tengo veinte años.", "es"),
        ("It costs $25.", "It costs twenty-five dollars.", "en"),
        ("It costs 25 dollars", "It costs $25", "en"),
        ("Il a 21 ans.", "Il a vingt-et-un ans.", "fr"),
        ("Il a 71 ans.", "Il a soixante et onze ans.", "fr"),
        ("Er ist 21.", "Er ist einundzwanzig.", "de"),
        ("Un 20% más.", "Un 20 por ciento más.", "es"),
        ("Un 20 % más.", "Un veinte por ciento más.", "es"),
        ("One thousand people", "1,000 people", "en"),
        ("Mil quinientos euros", "1.500 €", "es"),
        ("Trois virgule cinq", "3,5", "fr"),
        ("l'homme est là", "L’homme est là.", "fr"),
        ("Tom & Jerry", "Tom and Jerry", "en"),
        ("<speed level='90'>Hola</speed> *mundo*", "Hola mundo", "es"),
        ("well-known", "well known", "en"),
        ("dich hier wiederzusehen", "dich hier wieder zu sehen", "de"),
        ("commence à 10 heures", "commence à 10h", "fr"),
        ("merci d'être venus", "merci d 'être venus", "fr"),
        ("every one of them", "everyone of them", "en"),
    ],
)
def test_spelling_case_and_punctuation_are_no_errors(intended: str, heard: str, language: str) -> None:
    assert heard_wer(intended, heard, language) == 0.0


def test_accents_count() -> None:
    assert heard_wer("Cómo estás", "como estas", "es") == 1.0


def test_a_wrong_number_is_one_error_not_two() -> None:
    assert heard_wer("Tengo 20 años", "tengo treinta años", "es") == pytest.approx(1 / 3)
    assert heard_wer("I have 20 cats", "I have 30 cats", "en") == pytest.approx(1 / 4)


def test_empty_intended_is_zero_and_nothing_heard_is_one() -> None:
    assert heard_wer("", "anything at all", "en") == 0.0
    assert heard_wer(" ¿? ", "", "es") == 0.0
    assert heard_wer("hola mundo", "", "es") == 1.0


def test_hallucinated_words_push_wer_past_one() -> None:
    assert heard_wer("sí", "sí gracias por ver el vídeo", "es") == 5.0


def test_languages_without_a_speller_keep_digits() -> None:
    assert heard_wer("Ho 20 anni", "ho 20 anni", "it") == 0.0
    assert heard_wer("Ho 20 anni", "ho venti anni", "it") == pytest.approx(1 / 3)
    assert spell_number(20, "it") is None


@pytest.mark.parametrize(
    ("n", "language", "words"),
    [
        (0, "en", "zero"),
        (21, "en", "twenty-one"),
        (105, "en", "one hundred five"),
        (2024, "en", "two thousand twenty-four"),
        (1, "es", "uno"),
        (16, "es", "dieciséis"),
        (31, "es", "treinta y uno"),
        (100, "es", "cien"),
        (115, "es", "ciento quince"),
        (500, "es", "quinientos"),
        (1000, "es", "mil"),
        (2024, "es", "dos mil veinticuatro"),
        (21000, "es", "veintiún mil"),
        (31000, "es", "treinta y un mil"),
        (21, "fr", "vingt et un"),
        (71, "fr", "soixante et onze"),
        (80, "fr", "quatre-vingts"),
        (81, "fr", "quatre-vingt-un"),
        (91, "fr", "quatre-vingt-onze"),
        (99, "fr", "quatre-vingt-dix-neuf"),
        (200, "fr", "deux cents"),
        (201, "fr", "deux cent un"),
        (80000, "fr", "quatre-vingt mille"),
        (1, "de", "eins"),
        (21, "de", "einundzwanzig"),
        (101, "de", "hunderteins"),
        (2024, "de", "zweitausendvierundzwanzig"),
        (1_000_000, "en", None),
    ],
)
def test_spell_number(n: int, language: str, words: str | None) -> None:
    assert spell_number(n, language) == words


def test_normalise_for_speech() -> None:
    assert normalise_for_speech("<b>Hola</b>, *mundo* [risas]", "es") == "Hola, mundo"
    assert normalise_for_speech("Un 50% & más.", "es") == "Un cincuenta por ciento y más."
    assert normalise_for_speech("Only $20!", "en") == "Only twenty dollars!"
    assert normalise_for_speech("Es kostet 3,5 €.", "de") == "Es kostet drei komma fünf Euro."
    assert normalise_for_speech("Costa 20 euro", "it") == "Costa 20 euro"


def test_plain_word_errors() -> None:
    assert heard_wer("Hola, ¿qué tal?", "hola que tal", "es") == pytest.approx(1 / 3)  # qué != que
    assert heard_wer("one two three", "one two three", "en") == 0.0
    assert heard_wer("one two three", "", "en") == 1.0
    assert heard_wer("a b", "a x b", "en") == 0.5
