"""The consent statement and how a transcript is checked against it (no database, no model)."""

from __future__ import annotations

from datetime import date

import pytest

from pipeline.ledger import statement as st

STATEMENT = st.compose("Joe Example", ["dubbing", "audiobook"], ["es", "fr"], None, date(2026, 11, 27), None, "74291")


def test_statement_names_person_uses_languages_date_and_code() -> None:
    assert STATEMENT.startswith("I, Joe Example, agree that my voice may be used for dubbing and audiobooks")
    assert "in Spanish and French, for any project." in STATEMENT
    assert "Today is November twenty-seventh, two thousand twenty-six." in STATEMENT
    assert STATEMENT.endswith("My code is seven four two nine one.")


def test_statement_with_projects_and_end_date() -> None:
    text = st.compose("Ann", ["audio_description"], ["ca"], ["alpha", "beta"], date(2026, 1, 2), date(2027, 3, 1), "1")
    assert "for audio description in Catalan, for the projects alpha and beta until March first, two thousand" in text


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("My code is 742-9-1.", ["my", "code", "is", "7", "4", "2", "9", "1"]),
        ("my code is seven four two nine one", ["my", "code", "is", "7", "4", "2", "9", "1"]),
        ("November 27th, 2026", ["november", "2", "7", "2", "0", "2", "6"]),
        ("November twenty-seventh, two thousand and twenty six", ["november", "2", "7", "2", "0", "2", "6"]),
        ("three hundred twelve, nineteen", ["3", "1", "2", "1", "9"]),
        ("an audio book", ["an", "audiobook"]),
    ],
)
def test_normalise_writes_numbers_as_digits(text: str, tokens: list[str]) -> None:
    assert st.normalise(text) == tokens


def test_codes_use_digits_one_to_nine() -> None:
    codes = {st.new_code() for _ in range(200)}
    assert all(len(c) == 5 and set(c) <= set("123456789") for c in codes)
    assert len(codes) > 150


def test_words_check() -> None:
    heard = (
        "I, Joe Example, agree that my voice may be used for dubbing an audiobook in Spanish and French, "
        "for any project. Today is November 27th, 2026. My code is 742-91."
    )
    ok = st.check_words(STATEMENT, "74291", heard, 0.25)
    assert ok.passed and ok.code_heard and ok.wer < 0.1
    wrong_code = st.check_words(STATEMENT, "74291", heard.replace("742-91", "38506"), 0.25)
    assert not wrong_code.passed and not wrong_code.code_heard
    other_text = st.check_words(STATEMENT, "74291", "Hello there. My code is 74291.", 0.25)
    assert not other_text.passed and other_text.code_heard and other_text.wer > 0.5
