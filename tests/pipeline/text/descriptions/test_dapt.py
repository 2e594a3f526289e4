"""W3C DAPT: metadata, TTML time expressions, begin inheritance, languages, bad documents, the writer."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from pipeline.core.errors import InputError
from pipeline.text.descriptions.cues import Cue, DescriptionScript, PlacedCue
from pipeline.text.descriptions.dapt import DAPTM, TT, TTM, _Rates, parse_time, read_dapt, write_dapt

HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<tt xmlns="http://www.w3.org/ns/ttml" xmlns:ttp="http://www.w3.org/ns/ttml#parameter"\n'
    '    xmlns:ttm="http://www.w3.org/ns/ttml#metadata"\n'
    '    xmlns:daptm="http://www.w3.org/ns/ttml/profile/dapt#metadata"\n'
    '    ttp:contentProfiles="http://www.w3.org/ns/ttml/profile/dapt1.0/content" {attrs}\n'
    '    xml:lang="en" daptm:scriptRepresents="visual.nonText" daptm:scriptType="preRecording">\n'
)


def _doc(body: str, attrs: str = "", head: str = "") -> bytes:
    return (HEAD.format(attrs=attrs) + head + "<body>\n" + body + "\n</body>\n</tt>\n").encode()


def _read(body: str, attrs: str = "", head: str = "") -> DescriptionScript:
    return read_dapt(_doc(body, attrs, head), "ad.xml")


def test_reads_events_metadata_and_text() -> None:
    body = """<div xml:id="a1" begin="10s" end="13s" daptm:represents="visual.nonText">
      <ttm:desc daptm:descType="scene">harbour</ttm:desc>
      <p>A woman climbs into <span>a small</span><br/>sailing boat.</p>
      <p>She smiles.</p>
    </div>
    <div xml:id="a2" begin="00:00:18.500" dur="1.5s"><p>The boat turns.</p></div>"""
    head = "<head><metadata><ttm:title>Lecture 1</ttm:title></metadata></head>"
    script = _read(body, head=head)
    assert (script.format, script.language, script.title) == ("dapt", "en", "Lecture 1")
    a1, a2 = script.cues
    assert (a1.id, a1.start, a1.end, a1.desc_type) == ("a1", 10.0, 13.0, "scene")
    assert a1.text == "A woman climbs into a small sailing boat. She smiles."
    assert a1.where == '<div xml:id="a1"> at line 8'
    assert (a2.id, a2.start, a2.end) == ("a2", 18.5, 20.0)


@pytest.mark.parametrize(
    ("expr", "seconds"),
    [
        ("00:01:02.5", 62.5),
        ("01:00:00", 3600.0),
        ("00:00:01:12", 1.5),  # 12 frames at 24 fps
        ("12.5s", 12.5),
        ("500ms", 0.5),
        ("1.5m", 90.0),
        ("1h", 3600.0),
        ("36f", 1.5),
        ("240t", 2.0),
    ],
)
def test_time_expressions(expr: str, seconds: float) -> None:
    assert parse_time(expr, _Rates(frame=24.0, sub_frame=1, tick=120.0)) == pytest.approx(seconds)


@pytest.mark.parametrize("expr", ["12.5", "1:02", "00:61:00", "5 s", "abc", "-1s"])
def test_bad_time_expressions(expr: str) -> None:
    with pytest.raises(ValueError):
        parse_time(expr)


def test_frame_and_tick_rates_from_the_root() -> None:
    attrs = 'ttp:frameRate="25" ttp:frameRateMultiplier="1000 1001" ttp:tickRate="10000000"'
    script = _read('<div xml:id="a" begin="00:00:10:00" end="150000000t"><p>x</p></div>', attrs)
    assert script.cues[0].start == pytest.approx(10.0)
    assert script.cues[0].end == pytest.approx(15.0)
    script = _read('<div xml:id="a" begin="25f"><p>x</p></div>', 'ttp:frameRate="25"')
    assert script.cues[0].start == pytest.approx(1.0)  # tick rate defaults to the frame rate: frames count


def test_times_are_relative_to_the_parent_and_begin_is_inherited() -> None:
    body = """<div begin="60s" end="120s">
      <div xml:id="a" begin="5s" end="8s"><p>nested</p></div>
      <div xml:id="b"><p>inherits the parent's begin and end</p></div>
    </div>
    <div><p xml:id="p1" begin="1s" end="2s">first</p><p xml:id="p2" begin="3s">second</p></div>"""
    cues = {c.id: c for c in _read(body).cues}
    assert (cues["a"].start, cues["a"].end) == (65.0, 68.0)
    assert (cues["b"].start, cues["b"].end) == (60.0, 120.0)
    assert (cues["p1"].start, cues["p1"].end) == (1.0, 2.0)
    assert (cues["p2"].start, cues["p2"].end) == (3.0, None)


def test_body_begin_offsets_everything_and_end_clips_to_parent() -> None:
    data = _doc('<div xml:id="a" begin="2s" end="50s"><p>x</p></div>')
    script = read_dapt(data.replace(b"<body>", b'<body begin="10s" end="30s">'), "ad.xml")
    assert (script.cues[0].start, script.cues[0].end) == (12.0, 30.0)


def test_cue_without_any_begin_names_the_element() -> None:
    with pytest.raises(InputError) as err:
        _read('<div xml:id="d3"><p>untimed</p></div>')
    assert err.value.message.startswith('ad.xml: <div xml:id="d3"> at line 8: the element needs a begin')


def test_malformed_time_names_the_element() -> None:
    with pytest.raises(InputError) as err:
        _read('<div><p xml:id="d3" begin="12,5s">x</p></div>')
    assert err.value.message == "ad.xml: <p xml:id=\"d3\"> at line 8: malformed begin time '12,5s'"
    with pytest.raises(InputError, match=r"ad.xml: <div> at line 9: malformed end time 'soon'"):
        _read('<div xml:id="ok" begin="1s"><p>x</p></div>\n<div begin="2s" end="soon"><p>y</p></div>')


def test_end_before_begin_names_the_element() -> None:
    with pytest.raises(InputError, match=r'ad.xml: <div xml:id="a"> at line 8: .*before it starts'):
        _read('<div xml:id="a" begin="5s" end="4s"><p>x</p></div>')


def test_languages_inherited_and_translation_picked() -> None:
    body = """<div xml:id="a" begin="1s"><p xml:lang="fr" daptm:langSrc="en">Une femme.</p><p>A woman.</p></div>
    <div xml:id="b" begin="2s" xml:lang="de"><p>Ein Boot.</p></div>"""
    cues = {c.id: c for c in _read(body).cues}
    assert cues["a"].text == "A woman." and cues["a"].language == ""
    assert cues["b"].text == "Ein Boot." and cues["b"].language == "de"


def test_desc_type_leniently_on_the_div_and_draft_mark() -> None:
    body = """<div xml:id="a" begin="1s" daptm:descType="pictureDescription"><p>x</p></div>
    <div xml:id="b" begin="2s"><ttm:desc>draft</ttm:desc><p>y</p></div>"""
    a, b = _read(body).cues
    assert a.desc_type == "pictureDescription" and not a.draft
    assert b.draft and b.desc_type == ""


def test_not_well_formed_xml_names_the_line() -> None:
    with pytest.raises(InputError) as err:
        read_dapt(_doc('<div begin="1s"><p>A & B</p></div>'), "ad.xml")
    assert err.value.message.startswith("ad.xml: line 8: not well-formed XML")
    with pytest.raises(InputError, match=r"ad.xml: line 1: not well-formed XML"):
        read_dapt(b"", "ad.xml")


def test_not_ttml_and_ttml_not_dapt() -> None:
    with pytest.raises(InputError, match=r"ad.xml: is XML but not TTML \(root <html>\)"):
        read_dapt(b"<html><body/></html>", "ad.xml")
    with pytest.raises(InputError, match=r"ad.xml: the <tt> root is in namespace"):
        read_dapt(b'<tt xmlns="http://www.w3.org/2006/10/ttaf1"><body/></tt>', "ad.xml")
    plain = b'<tt xmlns="http://www.w3.org/ns/ttml"><body><div><p begin="1s" end="2s">x</p></div></body></tt>'
    with pytest.raises(InputError, match=r"ad.xml: is TTML but not DAPT"):
        read_dapt(plain, "ad.xml")


def test_ttml_with_only_a_dapt_attribute_is_dapt() -> None:
    data = (
        b'<tt xmlns="http://www.w3.org/ns/ttml" xmlns:daptm="http://www.w3.org/ns/ttml/profile/dapt#"'
        b' daptm:scriptType="preRecording"><body><div begin="1s"><p>x</p></div></body></tt>'
    )
    assert read_dapt(data, "ad.xml").cues[0].start == 1.0


def test_entities_are_not_expanded() -> None:
    data = (
        b'<?xml version="1.0"?>\n<!DOCTYPE tt [<!ENTITY secret SYSTEM "file:///etc/passwd">]>\n'
        + _doc('<div xml:id="a" begin="1s"><p>x &secret; y</p></div>').split(b"\n", 1)[1]
    )
    script = read_dapt(data, "ad.xml")
    assert script.cues[0].text == "x y"


def test_empty_body_is_an_empty_script() -> None:
    with pytest.raises(InputError, match=r"ad.xml: the description script has no cues"):
        _read("")


def _placed(cid: str, start: float, end: float, **kw: object) -> PlacedCue:
    return PlacedCue(id=cid, asked=start, text="long text", spoken_text=f"spoken {cid}", start=start, end=end, **kw)


def test_write_as_recorded_round_trip(tmp_path: Path) -> None:
    cues = [
        _placed("d2", 20.25, 22.0, audio_uri="store://clips/d2.wav", desc_type="scene"),
        _placed("1", 1.0, 3.5, audio_uri="store://clips/1.wav", draft=True),
    ]
    out = write_dapt(cues, tmp_path / "ad.dapt.xml", "en", "asRecorded", title="Lecture 1")
    root = etree.parse(str(out)).getroot()
    assert root.tag == f"{{{TT}}}tt"
    assert root.get(f"{{{DAPTM}}}scriptType") == "asRecorded"
    assert root.get(f"{{{DAPTM}}}scriptRepresents") == "visual.nonText"
    assert root.findtext(f".//{{{TTM}}}title") == "Lecture 1"
    audio = root.findall(f".//{{{TT}}}span/{{{TT}}}audio")
    assert [a.get("src") for a in audio] == ["store://clips/1.wav", "store://clips/d2.wav"]
    script = read_dapt(out.read_bytes(), "ad.dapt.xml")
    assert (script.language, script.title) == ("en", "Lecture 1")
    assert [(c.id, c.start, c.end, c.text) for c in script.cues] == [
        ("1", 1.0, 3.5, "spoken 1"),
        ("d2", 20.25, 22.0, "spoken d2"),
    ]
    assert [c.draft for c in script.cues] == [True, False]
    assert script.cues[1].desc_type == "scene"


def test_write_cues_as_a_pre_recording_script(tmp_path: Path) -> None:
    cues = [
        Cue(id="s1", start=5.0, text="A slide: Results & <errors>.", draft=True, desc_type="pictureDescription"),
        Cue(id="s2", start=9.0, end=11.0, text="A chart."),
    ]
    out = write_dapt(cues, tmp_path / "draft.xml", "", "preRecording")
    script = read_dapt(out.read_bytes(), "draft.xml", "en")
    assert [(c.id, c.start, c.end, c.text, c.draft) for c in script.cues] == [
        ("s1", 5.0, None, "A slide: Results & <errors>.", True),
        ("s2", 9.0, 11.0, "A chart.", False),
    ]
    assert script.language == "en"  # written as xml:lang="und"; the argument fills in
    assert script.cues[0].desc_type == "x-pictureDescription"  # unregistered types get DAPT's x- prefix


def test_write_refuses_an_unknown_script_type(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="script_type"):
        write_dapt([], tmp_path / "x.xml", "en", "final")
