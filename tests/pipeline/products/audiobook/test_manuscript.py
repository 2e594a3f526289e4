"""Choosing the reader: by sniffing (an EPUB whatever its name) and by extension; unknown, missing and empty
files are InputErrors that name the file and say what is accepted."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from ebooklib import epub

from pipeline.core.errors import InputError
from pipeline.products.audiobook.manuscript import manuscript_format, read_manuscript


@pytest.fixture
def an_epub(tmp_path: Path) -> Path:
    book = epub.EpubBook()
    book.set_identifier("m")
    book.set_title("Sniffed")
    book.set_language("de")
    doc = epub.EpubHtml(title="Eins", file_name="eins.xhtml")
    doc.content = "<html><body><h1>Eins</h1><p>Ein Satz.</p></body></html>"
    book.add_item(doc)
    book.add_item(epub.EpubNcx())
    book.toc = [epub.Link("eins.xhtml", "Eins", "eins")]
    book.spine = [doc]
    path = tmp_path / "book.epub"
    epub.write_epub(str(path), book)
    return path


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("a.md", "markdown"), ("a.MARKDOWN", "markdown"), ("a.txt", "text"), ("a.text", "text"), ("a.TXT", "text")],
)
def test_by_extension(tmp_path: Path, name: str, fmt: str) -> None:
    path = tmp_path / name
    path.write_text("Chapter 1\n\nSome text.\n")
    assert manuscript_format(path) == fmt
    assert read_manuscript(path).book.format == fmt


@pytest.mark.parametrize("name", ["book.epub", "book.zip", "book.txt", "book"])
def test_an_epub_is_sniffed_whatever_its_name(an_epub: Path, tmp_path: Path, name: str) -> None:
    path = tmp_path / "named" / name
    path.parent.mkdir()
    shutil.copy(an_epub, path)
    m = read_manuscript(path)
    assert (m.book.format, m.book.title, m.book.language) == ("epub", "Sniffed", "de")
    assert [c.title for c in m.book.chapters] == ["Eins"]


def test_read_all_reaches_the_reader(tmp_path: Path) -> None:
    path = tmp_path / "b.md"
    path.write_text("# Contents\n\nOne, two.\n\n# One\n\nText.\n")
    assert [c.title for c in read_manuscript(path).book.chapters] == ["One"]
    assert [c.title for c in read_manuscript(path, read_all=True).book.chapters] == ["Contents", "One"]


def test_unknown_format_lists_the_accepted_ones(tmp_path: Path) -> None:
    path = tmp_path / "book.pdf"
    path.write_bytes(b"%PDF-1.7 not a manuscript dubline reads")
    with pytest.raises(InputError, match=r"book\.pdf is not a manuscript format") as e:
        read_manuscript(path)
    assert ".epub" in e.value.hint and ".md" in e.value.hint and ".txt" in e.value.hint


def test_a_plain_zip_is_not_an_epub(tmp_path: Path) -> None:
    import zipfile

    path = tmp_path / "archive.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("mimetype", "application/zip")
    with pytest.raises(InputError, match=r"archive\.zip is not a manuscript format"):
        read_manuscript(path)


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nothere\.epub: no such file"):
        read_manuscript(tmp_path / "nothere.epub")
    empty = tmp_path / "empty.epub"
    empty.touch()
    with pytest.raises(InputError, match=r"empty\.epub is empty"):
        read_manuscript(empty)


def test_a_text_file_named_epub_is_refused_as_an_epub(tmp_path: Path) -> None:
    path = tmp_path / "fake.epub"
    path.write_text("Chapter 1\n\nText.\n")
    with pytest.raises(InputError, match=r"fake\.epub is not an EPUB"):
        read_manuscript(path)
