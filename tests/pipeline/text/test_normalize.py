"""Written text as a narrator says it (pipeline/text/normalize.py), per language, and headings' numbers."""

from __future__ import annotations

import pytest

from models.text import normalise_for_speech
from pipeline.text.normalize import abbreviation_periods, normalize, roman_heading

EN = [
    # cardinals, decimals, thousands
    ("I have 3 cats.", "I have three cats."),
    ("He owned 3,000 acres.", "He owned three thousand acres."),
    ("1,000,000 people came.", "one million people came."),
    ("It was 2.5 times bigger.", "It was two point five times bigger."),
    ("Only 0.05 of them.", "Only zero point zero five of them."),
    ("It was -5 outside.", "It was minus five outside."),
    ("Room 101.", "Room one hundred and one."),
    # ordinals
    ("He came 1st, 2nd, 3rd and 21st.", "He came first, second, third and twenty-first."),
    ("The 11th hour.", "The eleventh hour."),
    # years and decades
    ("In 1984 he left.", "In nineteen eighty-four he left."),
    ("It was 1984.", "It was nineteen eighty-four."),
    ("He was born in 1905.", "He was born in nineteen oh-five."),
    ("Since 2010, nothing.", "Since twenty ten, nothing."),
    ("In the 1960s and the '90s.", "In the nineteen sixties and the nineties."),
    ("In 2000 BC they built it.", "In two thousand BC they built it."),
    ("From 1914–1918 and pages 10-12.", "From nineteen fourteen to nineteen eighteen and pages ten to twelve."),
    ("A 1500 page book.", "A one thousand five hundred page book."),  # no year context: a quantity
    # dates
    ("On 12 March 1850 she left.", "On the twelfth of March eighteen fifty she left."),
    ("On March 12, 1850 she left.", "On March twelfth, eighteen fifty she left."),
    ("On March 12, he left.", "On March twelfth, he left."),
    ("Born 1850-03-12.", "Born March twelfth, eighteen fifty."),
    ("The 4th of July.", "The fourth of July."),
    ("See Oct. 5 plan.", "See October fifth plan."),
    # money and percentages
    ("It cost $5.", "It cost five dollars."),
    ("It cost $5.20.", "It cost five dollars, twenty cents."),
    ("It cost £3.", "It cost three pounds sterling."),
    ("It cost €10 or 10 €.", "It cost ten euro or ten euro."),
    ("Just $0.50.", "Just fifty cents."),
    ("He paid $5 million.", "He paid five million dollars."),
    ("It rose 50% and 2.5 %.", "It rose fifty percent and two point five percent."),
    # times
    ("At 10:30 we ate.", "At ten thirty we ate."),
    ("At 10:05 and 10:00.", "At ten oh five and ten o'clock."),
    ("He left at 5 p.m. Then he slept.", "He left at five PM. Then he slept."),
    ("By 11 pm it was over.", "By eleven PM it was over."),
    # abbreviations
    ("Mr. Smith met Mrs. Smith and Ms. Jones.", "Mister Smith met Missus Smith and Miz Jones."),
    ("Dr. Watson and Prof. Moriarty.", "Doctor Watson and Professor Moriarty."),
    (
        "Capt. Ahab, Col. Mustard, Gen. Lee, Lt. Dan, Sgt. Pepper, Rev. Green.",
        "Captain Ahab, Colonel Mustard, General Lee, Lieutenant Dan, Sergeant Pepper, Reverend Green.",
    ),
    ("He prayed at St. Paul's.", "He prayed at Saint Paul's."),
    ("She lives on Baker St. Then she moved.", "She lives on Baker Street. Then she moved."),
    ("She lives on Baker St. near the park.", "She lives on Baker Street near the park."),
    ("John Smith Jr. arrived.", "John Smith Junior arrived."),
    ("Apples, pears, etc.", "Apples, pears, et cetera."),
    ("Apples, etc., and pears.", "Apples, et cetera, and pears."),
    ("Cats vs. dogs, e.g. Rex, i.e. mine.", "Cats versus dogs, for example Rex, that is mine."),
    ("No. 5 is mine.", "Number five is mine."),
    ("No. I won't.", "No. I won't."),  # "No." before no number is the word
    ("Tom & Jerry.", "Tom and Jerry."),
    # left alone
    ("COVID-19 hit.", "COVID-nineteen hit."),
    ("MP3, B12 and 3D.", "MP3, B12 and 3D."),
    ("See https://example.com/page2 now.", "See https://example.com/page2 now."),
    ("Mail a1@b2.com today.", "Mail a1@b2.com today."),
    ("Call 555-123-4567 now.", "Call 555-123-4567 now."),
    ("Version 1.2.3 and 192.168.0.1.", "Version 1.2.3 and 192.168.0.1."),
    ("I said MIX, I did.", "I said MIX, I did."),
    ("the part I played", "the part I played"),
    ("Read Chapter IV and Part II.", "Read Chapter four and Part two."),
]

ES = [
    ("Tengo 3 gatos.", "Tengo tres gatos."),
    ("Pagó 3.000 euros.", "Pagó tres mil euros."),
    ("Pesa 2,5 kilos.", "Pesa dos coma cinco kilos."),
    ("Tenía 21 años y 1 perro.", "Tenía veintiún años y un perro."),
    ("Fue el 1.º de mayo de 1850.", "Fue el primero de mayo de mil ochocientos cincuenta."),
    ("La 1.ª vez.", "La primera vez."),
    ("Vive en el 3.er piso.", "Vive en el tercer piso."),
    ("Fecha: 1850-03-12.", "Fecha: doce de marzo de mil ochocientos cincuenta."),
    ("Llegó el 12/03/1850.", "Llegó el doce de marzo de mil ochocientos cincuenta."),
    ("Subió un 50 %.", "Subió un cincuenta por ciento."),
    ("Cuesta 10 € o 5,20 €.", "Cuesta diez euros o cinco euros con veinte céntimos."),
    ("Son las 10:30.", "Son las diez y treinta."),
    ("Es la 1:00.", "Es la una en punto."),
    ("El Sr. García y la Sra. López.", "El Señor García y la Señora López."),
    ("La Dra. Pérez y el Dr. Ruiz.", "La Doctora Pérez y el Doctor Ruiz."),
    ("¿Cómo está Ud.? Bien.", "¿Cómo está Usted? Bien."),
    ("Perros, gatos, etc.", "Perros, gatos, etcétera."),
]

FR = [
    ("J'ai 3 chats.", "J'ai trois chats."),
    ("Il a payé 3 000 euros.", "Il a payé trois mille euros."),
    ("Il pèse 2,5 kilos.", "Il pèse deux virgule cinq kilos."),
    ("Le 1er mai 1850.", "Le premier mai mille huit cent cinquante."),
    ("La 1re fois, le 2e jour.", "La première fois, le deuxième jour."),
    ("Il est 10h30.", "Il est dix heures trente."),
    ("Il est 1h.", "Il est une heure."),
    ("Le 1850-03-12.", "Le douze mars mille huit cent cinquante."),
    ("Une hausse de 2,5 %.", "Une hausse de deux virgule cinq pour cent."),
    ("M. Dupont et Mme Curie.", "Monsieur Dupont et Madame Curie."),
    ("Mlle Dubois et le Dr Martin.", "Mademoiselle Dubois et le Docteur Martin."),
    ("J. M. Barrie écrivait.", "J. M. Barrie écrivait."),  # initials, not "Monsieur"
]

DE = [
    ("Ich habe 3 Katzen.", "Ich habe drei Katzen."),
    ("Es kostet 3.000 Euro.", "Es kostet dreitausend Euro."),
    ("Es wiegt 2,5 Kilo.", "Es wiegt zwei Komma fünf Kilo."),
    ("Im Jahr 1984 kam er.", "Im Jahr neunzehnhundertvierundachtzig kam er."),
    ("Am 12. März 1850 kam er.", "Am zwölften März achtzehnhundertfünfzig kam er."),
    ("Der 1. Mai ist frei.", "Der erste Mai ist frei."),
    ("Am 12.03.1850 kam er.", "Am zwölften März achtzehnhundertfünfzig kam er."),
    ("Der 3. Mann.", "Der 3. Mann."),  # an ordinal before a noun: ambiguous, left alone
    ("Er zählte bis 3.", "Er zählte bis drei."),
    ("Um 10:30 Uhr.", "Um zehn Uhr dreißig."),
    ("Es ist 1 Uhr.", "Es ist ein Uhr."),
    ("Es stieg um 2,5 %.", "Es stieg um zwei Komma fünf Prozent."),
    ("Hr. Müller und Fr. Schmidt.", "Herr Müller und Frau Schmidt."),
    (
        "Dr. Weber kam z.B. und z. B. nach St. Pauli usw.",
        "Doktor Weber kam zum Beispiel und zum Beispiel nach Sankt Pauli und so weiter.",
    ),
]

OTHER = [
    ("it", "Il Sig. Rossi pagò 3.000 euro il 1º maggio.", "Il Signor Rossi pagò tremila euro il primo maggio."),
    ("it", "Sono le 10:30.", "Sono le dieci e trenta."),
    (
        "pt",
        "O Sr. Silva pagou 3.000 euros no dia 1º de maio.",
        "O Senhor Silva pagou três mil euros no dia primeiro de maio.",
    ),
    ("pt", "A 1ª vez.", "A primeira vez."),
    ("nl", "Hij betaalde 3 euro.", "Hij betaalde drie euro."),  # num2words knows it: numbers only
    ("xx", "Unchanged 3 $5 Mr. Smith.", "Unchanged 3 $5 Mr. Smith."),  # no num2words: as written
    ("en-US", "Mr. Smith had 2 dogs.", "Mister Smith had two dogs."),
    ("pt-BR", "Tenho 16 anos.", "Tenho dezesseis anos."),  # num2words' Brazilian speller
]


@pytest.mark.parametrize(("written", "said"), EN)
def test_english(written: str, said: str) -> None:
    assert normalize(written, "en") == said


@pytest.mark.parametrize(("written", "said"), ES)
def test_spanish(written: str, said: str) -> None:
    assert normalize(written, "es") == said


@pytest.mark.parametrize(("written", "said"), FR)
def test_french(written: str, said: str) -> None:
    assert normalize(written, "fr") == said


@pytest.mark.parametrize(("written", "said"), DE)
def test_german(written: str, said: str) -> None:
    assert normalize(written, "de") == said


@pytest.mark.parametrize(("language", "written", "said"), OTHER)
def test_other_languages(language: str, written: str, said: str) -> None:
    assert normalize(written, language) == said


def test_thousands_and_decimal_separators_follow_the_language() -> None:
    assert normalize("3,000", "en") == "three thousand"
    assert normalize("3.000", "de") == "dreitausend"
    assert normalize("2.5", "en") == "two point five"
    assert normalize("2,5", "es") == "dos coma cinco"
    assert normalize("2,500", "es") == "dos coma quinientos"  # a decimal comma in Spanish


def test_expanded_abbreviations_leave_no_sentence_ending_period() -> None:
    said = normalize("Mr. Smith and Dr. Jones met St. John at 5 p.m. near Baker St. in town.", "en")
    assert said == "Mister Smith and Doctor Jones met Saint John at five PM near Baker Street in town."
    assert said.count(".") == 1


def test_whitespace_runs_become_one_space() -> None:
    assert normalize("  two\n\nlines  ", "en") == "two lines"


HEADINGS = [
    ("Chapter IV", "en", "Chapter four"),
    ("CHAPTER XII. THE END", "en", "CHAPTER twelve. THE END"),
    ("Chapter 1", "en", "Chapter one"),
    ("Book II, Chapter iv", "en", "Book two, Chapter four"),
    ("Part III: Home", "en", "Part three: Home"),
    ("Capítulo IV", "es", "Capítulo cuatro"),
    ("Chapitre XX", "fr", "Chapitre vingt"),
    ("Kapitel III", "de", "Kapitel drei"),
    ("XII.", "en", "Twelve."),
    ("IV. The Storm", "en", "Four. The Storm"),
    ("I", "en", "One"),
    ("Chapter IV", "xx", "Chapter 4"),  # no num2words for the language: digits
    # not headings' numbers
    ("I, Robot", "en", "I, Robot"),
    ("MIX", "en", "MIX"),
    ("I Remember", "en", "I Remember"),
    ("Book mix", "en", "Book mix"),
    ("Chapter IIII", "en", "Chapter IIII"),  # no canonical numeral
    ("The Last Chapter", "en", "The Last Chapter"),
]


@pytest.mark.parametrize(("title", "language", "said"), HEADINGS)
def test_roman_heading(title: str, language: str, said: str) -> None:
    assert roman_heading(title, language) == said


def test_abbreviation_periods_lists_only_those_that_never_end_a_sentence() -> None:
    text = "Mr. Smith saw apples, etc. Then No. 5 and e.g. this."
    periods = abbreviation_periods(text, "en")
    assert periods == [2, text.index("No.") + 2, text.index("e.g.") + 1, text.index("e.g.") + 3]
    assert abbreviation_periods("Hr. Müller kam.", "de") == [2]
    assert abbreviation_periods("Mr. Smith.", "xx") == []


def test_dubbing_retry_normaliser_is_unchanged() -> None:
    """models.text.normalise_for_speech (line QA's retries) keeps its own behaviour."""
    assert normalise_for_speech("It costs $20 and 50%.", "en") == "It costs twenty dollars and fifty percent."
