"""The EPUB reader on books made here with ebooklib (EPUB3 nav, EPUB2 NCX, chapters as fragments, nested
and missing navigation, front matter, a cover) and on hand-made bad archives (not a zip, DRM, no text)."""

from __future__ import annotations

import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

import pytest
from ebooklib import epub

from pipeline.core.errors import InputError
from pipeline.products.audiobook.book import Manuscript
from pipeline.products.audiobook.epub import read_epub

LOREM = "The quick brown fox jumps over the lazy dog near the quiet river bank."


def tiny_png() -> bytes:
    """A valid 1x1 PNG made from its chunks."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


def html(title: str, body: str) -> epub.EpubHtml:
    """A content document; the file name is the title's first word."""
    doc = epub.EpubHtml(title=title, file_name=f"text/{title.split()[0].lower()}.xhtml", lang="en")
    doc.content = f"<html><body>{body}</body></html>"
    return doc


def chapter(title: str, n: int, extra: str = "") -> epub.EpubHtml:
    return html(title, f"<h1>{title}</h1><p>{LOREM} Paragraph one of {title}.</p>{extra}<p>{LOREM} End {n}.</p>")


def write(
    path: Path,
    docs: list[epub.EpubHtml],
    toc: list[Any],
    *,
    nav: bool = True,
    language: str = "en-GB",
    authors: tuple[str, ...] = ("Ada Writer",),
    cover: bytes | None = None,
    guide: list[dict[str, str]] | None = None,
) -> Path:
    book = epub.EpubBook()
    book.set_identifier("test-book")
    book.set_title("A Test Book")
    book.set_language(language)
    for i, name in enumerate(authors):
        book.add_author(name, uid=f"creator{i}")
    spine: list[Any] = []
    if cover:
        book.set_cover("images/cover.png", cover)
        spine.append("cover")
    for doc in docs:
        book.add_item(doc)
    book.toc = toc
    book.guide = guide or []
    book.add_item(epub.EpubNcx())
    if nav:
        book.add_item(epub.EpubNav())
        spine.append("nav")
    book.spine = spine + docs
    epub.write_epub(str(path), book, {"epub3_pages": False})
    return path


def link(doc: epub.EpubHtml, fragment: str = "", title: str = "") -> epub.Link:
    href = f"{doc.file_name}#{fragment}" if fragment else doc.file_name
    return epub.Link(href, title or doc.title, href.replace("/", "_"))


def texts(m: Manuscript) -> list[str]:
    return [p.text for c in m.book.chapters for p in c.paragraphs]


def three_chapters() -> list[epub.EpubHtml]:
    return [chapter("One", 1), chapter("Two", 2), chapter("Three", 3)]


def test_epub3_nav_chapters_in_order_with_metadata_and_cover(tmp_path: Path) -> None:
    docs = three_chapters()
    png = tiny_png()
    path = write(tmp_path / "b.epub", docs, [link(d) for d in docs], cover=png, authors=("Ada Writer", "Bo Co"))
    m = read_epub(path)
    assert [c.title for c in m.book.chapters] == ["One", "Two", "Three"]
    assert [c.index for c in m.book.chapters] == [1, 2, 3]
    assert m.book.chapters[0].source == "EPUB/text/one.xhtml"
    # the <h1> repeating the title is not read twice
    assert [p.text for p in m.book.chapters[1].paragraphs] == [f"{LOREM} Paragraph one of Two.", f"{LOREM} End 2."]
    assert (m.book.title, m.book.author, m.book.language, m.book.format) == (
        "A Test Book",
        "Ada Writer, Bo Co",
        "en",
        "epub",
    )
    assert m.cover == png and m.cover_type == "image/png"


def test_epub2_ncx_only(tmp_path: Path) -> None:
    docs = three_chapters()
    path = write(tmp_path / "b.epub", docs, [link(d, title=f"Chapter {d.title}") for d in docs], nav=False)
    with zipfile.ZipFile(path) as zf:
        assert not any(n.endswith("nav.xhtml") for n in zf.namelist())
    m = read_epub(path)
    assert [c.title for c in m.book.chapters] == ["Chapter One", "Chapter Two", "Chapter Three"]
    assert m.cover is None


def test_chapters_as_fragments_of_one_document(tmp_path: Path) -> None:
    body = (
        "<h1>The Book</h1>"
        '<section id="ch1"><h2>First</h2><p>Alpha one.</p><p>Alpha two.</p></section>'
        '<p><a id="ch2"/>Second</p><p>Beta one.</p><hr/><p>Beta two.</p>'
        '<div id="ch3"><h2>Third</h2><p>Gamma.</p></div>'
    )
    doc = html("Book", body)
    toc = [link(doc, "ch1", "First"), link(doc, "ch2", "Second"), link(doc, "ch3", "Third")]
    m = read_epub(write(tmp_path / "f.epub", [doc], toc))
    chapters = m.book.chapters
    assert [c.title for c in chapters] == ["First", "Second", "Third"]
    assert [c.source for c in chapters] == [f"EPUB/text/book.xhtml#ch{i}" for i in (1, 2, 3)]
    assert [p.text for p in chapters[0].paragraphs] == ["Alpha one.", "Alpha two."]
    assert [(p.kind, p.text) for p in chapters[1].paragraphs] == [
        ("text", "Beta one."),
        ("scene_break", ""),
        ("text", "Beta two."),
    ]
    assert [p.text for p in chapters[2].paragraphs] == ["Gamma."]


def test_nested_toc_keeps_sub_sections_inside_their_chapter(tmp_path: Path) -> None:
    one = html("One", '<h1>One</h1><p>Start.</p><h2 id="s1">Sub one</h2><p>Inside.</p>')
    two, three = chapter("Two", 2), chapter("Three", 3)
    toc = [
        (epub.Section("Part I"), [(epub.Section("One", href=one.file_name), [link(one, "s1", "Sub one")]), link(two)]),
        link(three),
    ]
    m = read_epub(write(tmp_path / "n.epub", [one, two, three], toc))
    assert [c.title for c in m.book.chapters] == ["One", "Two", "Three"]
    assert [p.text for p in m.book.chapters[0].paragraphs] == ["Start.", "Sub one", "Inside."]


def test_spine_fallback_without_navigation(tmp_path: Path) -> None:
    docs = [html("One", "<h2>Opening</h2><p>First text.</p>"), html("Two", "<p>Second text.</p>")]
    m = read_epub(write(tmp_path / "s.epub", docs, []))
    assert [c.title for c in m.book.chapters] == ["Opening", "Two"]  # first h1/h2, else <title>
    assert texts(m) == ["First text.", "Second text."]


def test_front_matter_skipped_and_listed_unless_read_all(tmp_path: Path) -> None:
    contents = html("Contents", "<h1>Contents</h1><p>One</p><p>Two</p>")
    copyright_ = html(  # in a converter's wrapper
        "Legal", '<div class="x"><section epub:type="copyright-page"><p>(c) 2020 Ada.</p></section></div>'
    )
    dedication = html("Dedication", "<p>For my cat.</p>")
    one, two = chapter("One", 1), chapter("Two", 2)
    docs = [contents, copyright_, dedication, one, two]
    toc = [link(copyright_), link(dedication), link(one), link(two)]  # only its type says "copyright"
    path = write(tmp_path / "fm.epub", docs, toc)
    m = read_epub(path)
    assert [c.title for c in m.book.chapters] == ["Dedication", "One", "Two"]
    # the navigation document (in the spine, titled with the book's title) is a table of contents too
    toc_page = "A Test Book: table of contents"
    assert m.book.skipped == [toc_page, "Contents: table of contents", "Legal: copyright page"]
    everything = read_epub(path, read_all=True)
    titles = ["A Test Book", "Contents", "Legal", "Dedication", "One", "Two"]
    assert [c.title for c in everything.book.chapters] == titles
    assert everything.book.skipped == []


def test_guide_and_landmarks_skip_what_they_name(tmp_path: Path) -> None:
    listing = html("Plates", "<p>Plate 1, the fox.</p>")  # neither its title nor its file name says what it is
    one, two = chapter("One", 1), chapter("Two", 2)
    guide = [{"href": listing.file_name, "title": "Plates", "type": "loi"}]
    m = read_epub(write(tmp_path / "g.epub", [listing, one, two], [link(d) for d in (listing, one, two)], guide=guide))
    assert [c.title for c in m.book.chapters] == ["One", "Two"]
    assert m.book.skipped[1:] == ["Plates: list of illustrations"]


def test_page_breaks_notes_and_typography_cleaned(tmp_path: Path) -> None:
    body = (
        "<h1>One</h1>"
        '<p>It was a \u201cdark\u201d night<span epub:type="pagebreak" id="p12" title="12"/> and the '
        'wind\u2014cold\u2014blew.<a epub:type="noteref" href="#n1">1</a> See<sup>2</sup> more [Pg 13] text.</p>'
        '<aside epub:type="footnote" id="n1"><p>A note that is not read.</p></aside>'
        '<p>Soft\u00adly she said\u2026 <span role="doc-pagebreak" aria-label="14">14</span>no.</p>'
        "<p>* * *</p><p>Next scene.</p>"
    )
    m = read_epub(write(tmp_path / "c.epub", [html("One", body)], []))
    paragraphs = m.book.chapters[0].paragraphs
    assert paragraphs[0].text == 'It was a "dark" night and the wind - cold - blew. See more text.'
    assert paragraphs[1].text == "Softly she said... no."
    assert [p.kind for p in paragraphs] == ["text", "text", "scene_break", "text"]
    for text in texts(m):
        assert "[Pg" not in text and "\u00ad" not in text and "note" not in text


@pytest.mark.parametrize(("stated", "code"), [("en-GB", "en"), ("eng", "en"), ("fra", "fr"), ("es", "es")])
def test_language_as_iso_639_1(tmp_path: Path, stated: str, code: str) -> None:
    docs = three_chapters()
    assert read_epub(write(tmp_path / "l.epub", docs, [link(d) for d in docs], language=stated)).book.language == code


# -- bad input -----------------------------------------------------------------------------------------------


def rezip(src: Path, dest: Path, extra: dict[str, str]) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info, zin.read(info))
        for name, text in extra.items():
            zout.writestr(name, text)
    return dest


def encryption_xml(algorithm: str, uri: str) -> str:
    return (
        '<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container" '
        'xmlns:enc="http://www.w3.org/2001/04/xmlenc#"><enc:EncryptedData>'
        f'<enc:EncryptionMethod Algorithm="{algorithm}"/>'
        f'<enc:CipherData><enc:CipherReference URI="{uri}"/></enc:CipherData></enc:EncryptedData></encryption>'
    )


@pytest.fixture
def good_epub(tmp_path: Path) -> Path:
    docs = three_chapters()
    return write(tmp_path / "good.epub", docs, [link(d) for d in docs])


def test_drm_encrypted_content_is_refused(good_epub: Path, tmp_path: Path) -> None:
    xml = encryption_xml("http://www.w3.org/2001/04/xmlenc#aes128-cbc", "EPUB/text/one.xhtml")
    path = rezip(good_epub, tmp_path / "drm.epub", {"META-INF/encryption.xml": xml})
    with pytest.raises(InputError, match=r"drm\.epub is DRM-protected: .*EPUB/text/one\.xhtml") as e:
        read_epub(path)
    assert "DRM-free" in e.value.hint


@pytest.mark.parametrize("algorithm", ["http://www.idpf.org/2008/embedding", "http://ns.adobe.com/pdf/enc#RC"])
def test_font_obfuscation_is_not_drm(good_epub: Path, tmp_path: Path, algorithm: str) -> None:
    xml = encryption_xml(algorithm, "EPUB/fonts/serif.otf")
    path = rezip(good_epub, tmp_path / "fonts.epub", {"META-INF/encryption.xml": xml, "EPUB/fonts/serif.otf": "x"})
    assert len(read_epub(path).book.chapters) == 3


def test_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "plain.epub"
    path.write_text("just some text, not an archive")
    with pytest.raises(InputError, match=r"plain\.epub is not an EPUB") as e:
        read_epub(path)
    assert "\n" not in e.value.one_line() and e.value.hint


def test_truncated_zip(good_epub: Path, tmp_path: Path) -> None:
    path = tmp_path / "cut.epub"
    path.write_bytes(good_epub.read_bytes()[: good_epub.stat().st_size // 2])
    with pytest.raises(InputError, match=r"cut\.epub"):
        read_epub(path)


def test_zip_without_a_package(tmp_path: Path) -> None:
    path = tmp_path / "other.epub"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(InputError, match=r"other\.epub is not an EPUB: .*container\.xml"):
        read_epub(path)


def test_broken_package_is_an_input_error(good_epub: Path, tmp_path: Path) -> None:
    path = tmp_path / "broken.epub"
    with zipfile.ZipFile(good_epub) as zin, zipfile.ZipFile(path, "w") as zout:
        for info in zin.infolist():
            if not info.filename.endswith("two.xhtml"):  # the manifest names a file that is not there
                zout.writestr(info, zin.read(info))
    with pytest.raises(InputError, match=r"broken\.epub is not a readable EPUB"):
        read_epub(path)


def test_no_text(tmp_path: Path) -> None:
    doc = html("Scan", '<div><img src="page1.png" alt=""/></div>')
    with pytest.raises(InputError, match=r"scan\.epub has no text"):
        read_epub(write(tmp_path / "scan.epub", [doc], [link(doc)]))


def test_only_skipped_matter_is_no_chapters(tmp_path: Path) -> None:
    doc = html("Copyright", "<h1>Copyright</h1><p>All rights reserved.</p>")
    path = write(tmp_path / "c.epub", [doc], [link(doc)])
    with pytest.raises(InputError, match=r"c\.epub: no chapters found \(skipped: .*Copyright: copyright page\)"):
        read_epub(path)
    assert [c.title for c in read_epub(path, read_all=True).book.chapters] == ["A Test Book", "Copyright"]


# -- a hand-made EPUB 2 as converters write them -------------------------------------------------------------

OPF2 = """<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="2.0" unique-identifier="uid">
  <metadata xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:opf="http://www.idpf.org/2007/opf">
    <dc:title>Old Book</dc:title>
    <dc:creator opf:role="aut">Carla Author</dc:creator>
    <dc:creator opf:role="ill">Ivan Illustrator</dc:creator>
    <dc:language>spa</dc:language>
    <dc:identifier id="uid">urn:x</dc:identifier>
    <meta name="cover" content="cover-jpg"/>
  </metadata>
  <manifest>
    <item id="ncx" href="toc.ncx" media-type="application/x-dtbncx+xml"/>
    <item id="cover-jpg" href="images/front.jpg" media-type="image/jpeg"/>
    <item id="titlepage" href="titlepage.xhtml" media-type="application/xhtml+xml"/>
    <item id="c1" href="Text/ch01.html" media-type="application/xhtml+xml"/>
    <item id="c1b" href="Text/ch01_split_001.html" media-type="application/xhtml+xml"/>
    <item id="c2" href="Text/ch02.html" media-type="application/xhtml+xml"/>
    <item id="notes" href="Text/notes.html" media-type="application/xhtml+xml"/>
  </manifest>
  <spine toc="ncx">
    <itemref idref="titlepage"/><itemref idref="c1"/><itemref idref="c1b"/><itemref idref="c2"/>
    <itemref idref="notes" linear="no"/>
  </spine>
  <guide><reference type="title-page" title="Title" href="titlepage.xhtml"/></guide>
</package>"""

NCX2 = """<?xml version="1.0" encoding="utf-8"?>
<ncx xmlns="http://www.daisy.org/z3986/2005/ncx/" version="2005-1"><head/><docTitle><text>Old Book</text></docTitle>
<navMap>
  <navPoint id="n1" playOrder="1"><navLabel><text>Uno</text></navLabel><content src="Text/ch01.html"/>
    <navPoint id="n1a" playOrder="2"><navLabel><text>Uno, parte b</text></navLabel>
      <content src="Text/ch01_split_001.html"/></navPoint>
  </navPoint>
  <navPoint id="n2" playOrder="3"><navLabel><text>Dos</text></navLabel><content src="Text/ch02.html#top"/></navPoint>
</navMap></ncx>"""

XHTML11 = """<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.1//EN" "http://www.w3.org/TR/xhtml11/DTD/xhtml11.dtd">
<html xmlns="http://www.w3.org/1999/xhtml"><head><title>{title}</title></head>
<body><div class="calibre">{body}</div></body></html>"""


def test_converter_style_epub2(tmp_path: Path) -> None:
    jpeg = b"\xff\xd8\xff\xe0" + b"\x00" * 16
    files = {
        "mimetype": "application/epub+zip",
        "META-INF/container.xml": (
            '<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
            '<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
            "</rootfiles></container>"
        ),
        "OEBPS/content.opf": OPF2,
        "OEBPS/toc.ncx": NCX2,
        "OEBPS/titlepage.xhtml": XHTML11.format(title="Cover", body="<p>Old Book</p><p>Carla Author</p>"),
        "OEBPS/Text/ch01.html": XHTML11.format(
            title="Uno", body='<h2 class="chap">Uno</h2><p class="p1">Primera&nbsp;parte del cap\u00edtulo.</p>'
        ),
        "OEBPS/Text/ch01_split_001.html": XHTML11.format(
            title="Uno", body='<p class="p1">Sigue el cap\u00edtulo uno<a href="notes.html#n1"><sup>1</sup></a>.</p>'
        ),
        "OEBPS/Text/ch02.html": XHTML11.format(title="Dos", body='<h2 id="top">Dos</h2><p>El segundo.</p>'),
        "OEBPS/Text/notes.html": XHTML11.format(title="Notas", body='<p id="n1">1. Una nota.</p>'),
    }
    path = tmp_path / "old.epub"
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
        zf.writestr("OEBPS/images/front.jpg", jpeg)
    m = read_epub(path)
    book = m.book
    assert (book.title, book.author, book.language) == ("Old Book", "Carla Author", "es")
    assert [(c.title, c.source) for c in book.chapters] == [
        ("Uno", "OEBPS/Text/ch01.html"),
        ("Dos", "OEBPS/Text/ch02.html#top"),
    ]
    # the split file continues chapter one; the note mark is gone; the no-break space is a space
    assert texts(m)[:2] == ["Primera parte del cap\u00edtulo.", "Sigue el cap\u00edtulo uno."]
    assert book.skipped == ["Cover: title page", "Notas: not in the reading order (linear=no)"]
    assert (m.cover, m.cover_type) == (jpeg, "image/jpeg")


def test_nav_document_without_a_toc_falls_back_to_the_ncx(good_epub: Path, tmp_path: Path) -> None:
    path = tmp_path / "odd-nav.epub"
    with zipfile.ZipFile(good_epub) as zin, zipfile.ZipFile(path, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename.endswith("nav.xhtml"):
                data = data.replace(b'epub:type="toc"', b'epub:type="other"').replace(b'role="doc-toc"', b"")
            zout.writestr(info, data)
    assert [c.title for c in read_epub(path).book.chapters] == ["One", "Two", "Three"]


def test_project_gutenberg_epub_boilerplate_and_contents_are_not_read(tmp_path: Path) -> None:
    first = html(
        "Front",
        '<section class="pg-boilerplate pgheader" id="pg-header"><p>The Project Gutenberg eBook of Tale.</p>'
        "<p>This ebook is for the use of anyone anywhere.</p></section>"
        "<h1>Tale</h1><p>by Jane Doe</p><h2>Contents</h2><p>Chapter I</p><p>Chapter II</p>",
    )
    one = html("One", '<div class="chapter"><h2 id="c1">CHAPTER I.<br/>The Start</h2><p>It starts.</p></div>')
    two = html(
        "Two",
        '<h2 id="c2">CHAPTER II.</h2><p>It ends.</p>'
        '<section class="pg-boilerplate" id="pg-footer"><h2>THE FULL PROJECT GUTENBERG LICENSE</h2>'
        "<p>Licence terms.</p></section>",
    )
    toc = [link(one, "c1", "CHAPTER I. The Start"), link(two, "c2", "CHAPTER II.")]
    m = read_epub(write(tmp_path / "pg.epub", [first, one, two], toc))
    assert [c.title for c in m.book.chapters] == ["Tale", "CHAPTER I. The Start", "CHAPTER II."]
    assert texts(m) == ["by Jane Doe", "It starts.", "It ends."]
    assert m.book.skipped[1:] == [
        "Project Gutenberg header: licence",
        "Contents: table of contents",
        "Project Gutenberg licence: licence",
    ]
    everything = texts(read_epub(tmp_path / "pg.epub", read_all=True))
    assert "Licence terms." in everything and "This ebook is for the use of anyone anywhere." in everything
