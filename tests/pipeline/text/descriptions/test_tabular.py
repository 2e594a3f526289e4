"""CSV and JSON description scripts: columns, time forms, errors naming the row or cue."""

from __future__ import annotations

import json

import pytest

from pipeline.core.errors import InputError
from pipeline.text.descriptions.tabular import parse_time, read_csv, read_json


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("12.5", 12.5), ("7", 7.0), ("01:02.5", 62.5), ("1:02", 62.0), ("00:01:02.500", 62.5), ("1:00:00,25", 3600.25)],
)
def test_time_forms(value: str, seconds: float) -> None:
    assert parse_time(value) == pytest.approx(seconds)


@pytest.mark.parametrize("value", ["abc", "1:60", "00:61:00", "-3", "12.5s", ""])
def test_bad_times(value: str) -> None:
    with pytest.raises(ValueError):
        parse_time(value)


def test_csv_with_bom_optional_end_and_id() -> None:
    data = '\ufeffid,start,end,text,notes\na1,1.5,3,"A woman, smiling.",x\n,00:01:02.500,,The boat turns.\n\n'
    script = read_csv(data.encode(), "ad.csv", "en")
    assert script.format == "csv" and script.language == "en"
    first, second = script.cues
    assert (first.id, first.start, first.end, first.text, first.where) == ("a1", 1.5, 3.0, "A woman, smiling.", "row 2")
    assert (second.id, second.start, second.end) == ("d2", 62.5, None)


def test_csv_column_aliases_and_order() -> None:
    script = read_csv(b"Description,Begin\nHello there.,4\n", "ad.csv")
    assert script.cues[0].text == "Hello there." and script.cues[0].start == 4.0


def test_csv_bad_time_names_row() -> None:
    data = b"start,text\n1,a\n2,b\nabc,c\n"
    with pytest.raises(InputError) as err:
        read_csv(data, "ad.csv")
    assert err.value.message == "ad.csv: row 4: start 'abc' is not a time"
    assert err.value.hint == "write seconds (12.5) or hh:mm:ss.fff"


def test_csv_errors() -> None:
    with pytest.raises(InputError, match=r"ad.csv: row 1: the header has no start column"):
        read_csv(b"time_code,text\n1,a\n", "ad.csv")
    with pytest.raises(InputError, match=r"ad.csv: row 2: the cue has no text"):
        read_csv(b"start,text\n1,\n", "ad.csv")
    with pytest.raises(InputError, match=r"ad.csv: row 3: .*before it starts"):
        read_csv(b"start,end,text\n1,2,a\n5,4,b\n", "ad.csv")
    with pytest.raises(InputError, match=r"ad.csv: the description script has no cues"):
        read_csv(b"start,text\n", "ad.csv")
    with pytest.raises(InputError, match=r"ad.csv: line 2 is not UTF-8 text \(byte 0xe9\)"):
        read_csv("start,text\n1,caf\u00e9\n".encode("latin-1"), "ad.csv")


def test_json_list_and_object_forms() -> None:
    items = [{"start": 2, "text": "Two."}, {"id": "x", "start": "00:00:01.000", "end": 1.5, "text": "One."}]
    script = read_json(json.dumps(items).encode(), "ad.json")
    assert [(c.id, c.start, c.end) for c in script.cues] == [("x", 1.0, 1.5), ("d1", 2.0, None)]
    doc = {"language": "fr", "title": "Cours 1", "cues": [{"start": 3, "text": "Trois.", "draft": True}]}
    script = read_json(json.dumps(doc).encode(), "ad.json", "en")
    assert script.language == "fr" and script.title == "Cours 1" and script.cues[0].draft


def test_json_errors_name_the_cue_or_line() -> None:
    with pytest.raises(InputError, match=r"ad.json: cue 2: start 'soon' is not a time"):
        read_json(b'[{"start": 1, "text": "a"}, {"start": "soon", "text": "b"}]', "ad.json")
    with pytest.raises(InputError, match=r"ad.json: line 3: not valid JSON"):
        read_json(b'[\n{"start": 1, "text": "a"},\n{"start": 2 "text": "b"}]', "ad.json")
    with pytest.raises(InputError, match=r"ad.json: cue 1: the cue has no start"):
        read_json(b'[{"text": "a"}]', "ad.json")
    with pytest.raises(InputError, match=r"ad.json: the JSON is not a list of cues"):
        read_json(b'{"cues": 3}', "ad.json")
    with pytest.raises(InputError, match=r"ad.json: the description script has no cues"):
        read_json(b"[]", "ad.json")
    with pytest.raises(InputError, match=r"ad.json: cue 1: end .True. is not a time"):
        read_json(b'[{"start": 1, "end": true, "text": "a"}]', "ad.json")
