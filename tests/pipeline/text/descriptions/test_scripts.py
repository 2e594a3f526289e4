"""read_script: format by extension and by content, the messages for unusable files, and the cues held
against the programme."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.core.errors import InputError
from pipeline.text.descriptions.cues import Cue, DescriptionScript
from pipeline.text.descriptions.scripts import (
    check_against_programme,
    clip_to_programme,
    read_script,
    sniff_format,
)

VTT = "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nA woman waves.\n"
DAPT = (
    '<tt xmlns="http://www.w3.org/ns/ttml" xmlns:daptm="http://www.w3.org/ns/ttml/profile/dapt#metadata"'
    ' daptm:scriptType="preRecording" daptm:scriptRepresents="visual.nonText" xml:lang="en">'
    '<body><div xml:id="a" begin="1s"><p>A woman waves.</p></div></body></tt>'
)
CSV = "start,text\n1,A woman waves.\n"
JSON = '[{"start": 1, "text": "A woman waves."}]'


@pytest.mark.parametrize(
    ("filename", "content", "fmt"),
    [
        ("ad.vtt", VTT, "webvtt"),
        ("ad.xml", DAPT, "dapt"),
        ("ad.ttml", DAPT, "dapt"),
        ("ad.dapt", DAPT, "dapt"),
        ("ad.csv", CSV, "csv"),
        ("ad.JSON", JSON, "json"),
        ("ad", VTT, "webvtt"),  # no extension: by content
        ("ad.txt", DAPT, "dapt"),
        ("ad.script", CSV, "csv"),
        ("ad.dat", JSON, "json"),
    ],
)
def test_every_format_by_extension_and_content(tmp_path: Path, filename: str, content: str, fmt: str) -> None:
    path = tmp_path / filename
    path.write_text(content, encoding="utf-8")
    script = read_script(path, language="en")
    assert script.format == fmt
    assert [(c.start, c.text) for c in script.cues] == [(1.0, "A woman waves.")]
    assert script.language == "en"


def test_sniff_format() -> None:
    assert sniff_format(b"\xef\xbb\xbfWEBVTT - track\n") == "webvtt"
    assert sniff_format(b'<?xml version="1.0"?><tt/>') == "dapt"
    assert sniff_format(b'{"cues": []}') == "json"
    assert sniff_format(b"Begin;Text\n") is None
    assert sniff_format(b"id,Start,End,Text\n") == "csv"
    assert sniff_format(b"just some words\n") is None
    assert sniff_format(b"[not json") is None


def test_unknown_format_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "ad.txt"
    path.write_text("A woman waves at 1 s.\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_script(path, name="inputs/ad.txt")
    assert err.value.message == "inputs/ad.txt: unknown description script format"
    assert err.value.hint == "give a WebVTT (.vtt), DAPT/TTML (.xml/.ttml), CSV or JSON file"


def test_missing_empty_and_undecodable_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope.vtt: cannot read the description script"):
        read_script(tmp_path / "nope.vtt")
    empty = tmp_path / "empty.vtt"
    empty.write_text("WEBVTT\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"empty.vtt: the description script has no cues"):
        read_script(empty)
    latin = tmp_path / "latin.vtt"
    latin.write_bytes("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nCaf\u00e9.\n".encode("latin-1"))
    with pytest.raises(InputError, match=r"latin.vtt: line 4 is not UTF-8 text"):
        read_script(latin)


def test_errors_use_the_given_name(tmp_path: Path) -> None:
    path = tmp_path / "x.xml"
    path.write_text("<tt><body>", encoding="utf-8")
    with pytest.raises(InputError, match=r"^s3://bucket/ad.xml: line 1: not well-formed XML"):
        read_script(path, name="s3://bucket/ad.xml")


def _script(*cues: Cue) -> DescriptionScript:
    return DescriptionScript(format="csv", cues=list(cues))


def test_cue_at_or_past_the_end_names_the_cue() -> None:
    script = _script(Cue(id="a", start=1.0, text="x"), Cue(id="late", start=60.0, text="y", where="row 3"))
    check_against_programme(script, 60.5, "ad.csv")
    with pytest.raises(InputError) as err:
        check_against_programme(script, 60.0, "ad.csv")
    assert err.value.message.startswith("ad.csv: cue late (row 3) starts at 60.000 s, at or after the end")


def test_cue_end_past_the_end_is_clipped_not_refused() -> None:
    script = _script(Cue(id="a", start=50.0, end=70.0, text="x"), Cue(id="b", start=1.0, end=2.0, text="y"))
    check_against_programme(script, 60.0, "ad.csv")
    clipped = clip_to_programme(script, 60.0)
    assert [(c.id, c.end) for c in clipped.cues] == [("b", 2.0), ("a", 60.0)]
    assert script.cues[1].end == 70.0  # the original is unchanged
