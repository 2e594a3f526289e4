"""EPUB 2 and 3 manuscripts, read with ebooklib and BeautifulSoup (lxml).

Chapters start where the navigation says (`epub_nav`): at a document's start or at a fragment anchor in it,
so a book whose chapters are fragments of one document is split at the anchors, and a document the
navigation does not name continues the chapter before it. Without usable navigation each spine document
with text is a chapter. Page-break markers, note references and note bodies are removed from the XHTML
before its text is taken; front and back matter is skipped by `epub:type`, landmarks, guide, title or file
name unless `read_all`.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bs4 import BeautifulSoup, Tag
from ebooklib import epub

from pipeline.core.errors import InputError
from pipeline.products.audiobook.book import Book, Manuscript, Paragraph
from pipeline.products.audiobook.cleaning import (
    READ_ALL_HINT,
    Section,
    assemble_chapters,
    clean_paragraph,
    language_code,
    make_paragraph,
    no_chapters,
    skip_reason_for_title,
)
from pipeline.products.audiobook.epub_nav import (
    NOTE_BODIES,
    Block,
    Marker,
    NavEntry,
    landmark_types,
    parse_html,
    skip_reason_for_types,
    strip_apparatus,
    text_blocks,
    toc_entries,
    types_of,
)

# META-INF/encryption.xml algorithms that only obfuscate embedded fonts (IDPF, Adobe): not DRM
FONT_OBFUSCATION = {"http://www.idpf.org/2008/embedding", "http://ns.adobe.com/pdf/enc#RC"}
NOT_EPUB_HINT = "export it again as EPUB 2 or 3 (e.g. with Calibre), or give the book as Markdown or plain text"

# file names of front matter, as generators name them ("titlepage.xhtml", "copyright-page.html")
_FILE_SKIPS = {
    "cover": "cover", "coverpage": "cover", "titlepage": "title page", "halftitle": "title page",
    "halftitlepage": "title page", "copyright": "copyright page", "copyrightpage": "copyright page",
    "toc": "table of contents", "contents": "table of contents", "tableofcontents": "table of contents",
    "colophon": "colophon",
}  # fmt: skip


@dataclass
class _Doc:
    name: str  # manifest path from the OPF folder
    body: Tag
    title: str  # its <title>
    hint: str  # why the document as a whole is not read ("" = it is)
    nav: bool = False  # the book's navigation document


@dataclass
class _Part:
    doc: _Doc
    title: str = ""  # from the navigation; "" = from its first heading
    fragment: str = ""
    skip: str = ""
    in_toc: bool = False
    blocks: list[Block] = field(default_factory=list)


def read_epub(path: Path, *, read_all: bool = False) -> Manuscript:
    """Read an EPUB 2 or 3 into a `Manuscript`. Bad input (not a zip, DRM, no text, no chapters) is an
    InputError naming the file."""
    opf_dir = _check_archive(path)
    book = _load(path)
    landmarks = landmark_types(book)
    docs = _spine_docs(book, landmarks)
    if not any(d.body.get_text().strip() for d in docs if not d.nav):
        raise InputError(f"{path.name} has no text", "is it scanned pages? Give an EPUB with text (or OCR it first)")
    sections = [_section(p, landmarks, opf_dir) for p in _nav_parts(docs, toc_entries(book))]
    if not any(any(x.kind == "text" for x in s.paragraphs) for s in sections):
        sections = [_section(p, landmarks, opf_dir) for p in _spine_parts(docs)]
    chapters, skipped = assemble_chapters(sections, read_all=read_all)
    if not chapters:
        raise InputError(f"{path.name}: {no_chapters(skipped)}", "check its table of contents, " + READ_ALL_HINT)
    cover, cover_type = _cover(book)
    meta = _Meta(book)
    return Manuscript(
        book=Book(
            title=meta.first("title") or path.stem,
            author=meta.authors(),
            language=language_code(meta.first("language")),
            chapters=chapters,
            format="epub",
            skipped=skipped,
        ),
        cover=cover,
        cover_type=cover_type,
    )


def _check_archive(path: Path) -> str:
    """The OPF's folder in the zip, after checking the archive is whole and not DRM-encrypted."""
    try:
        with zipfile.ZipFile(path) as zf:
            damaged = zf.testzip()
            names = set(zf.namelist())
            encryption = zf.read("META-INF/encryption.xml") if "META-INF/encryption.xml" in names else b""
            container = zf.read("META-INF/container.xml") if "META-INF/container.xml" in names else b""
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, NotImplementedError) as e:
        raise InputError(f"{path.name} is not an EPUB: it is not a readable zip archive ({e})", NOT_EPUB_HINT) from None
    if damaged:
        raise InputError(f"{path.name} is damaged: {damaged} in it fails its checksum", NOT_EPUB_HINT)
    if encryption:
        _check_encryption(path, encryption)
    rootfile = BeautifulSoup(container, "lxml-xml").find("rootfile", attrs={"full-path": True})
    if not isinstance(rootfile, Tag):
        raise InputError(f"{path.name} is not an EPUB: META-INF/container.xml names no package", NOT_EPUB_HINT)
    return posixpath.dirname(str(rootfile["full-path"]))


def _check_encryption(path: Path, encryption: bytes) -> None:
    """DRM encrypts content with a real cipher; fonts obfuscated by the IDPF or Adobe algorithm are fine."""
    for data in BeautifulSoup(encryption, "lxml-xml").find_all("EncryptedData"):
        method = data.find("EncryptionMethod")
        algorithm = str(method.get("Algorithm") or "") if isinstance(method, Tag) else ""
        if algorithm in FONT_OBFUSCATION:
            continue
        ref = data.find("CipherReference")
        what = str(ref.get("URI") or "") if isinstance(ref, Tag) else ""
        raise InputError(
            f"{path.name} is DRM-protected: META-INF/encryption.xml encrypts {what or 'its content'}",
            "use a DRM-free copy of the book (the publisher's own EPUB), or give it as Markdown or text",
        )


class _Reader(epub.EpubReader):
    """ebooklib's reader without its own table-of-contents parsing: `epub_nav` reads the nav and NCX (and does
    not fail, as ebooklib does, on a nav document without a toc nav)."""

    def _parse_nav(self, data: bytes, base_path: str, navtype: str = "toc") -> None:
        return None

    def _parse_ncx(self, data: bytes) -> None:
        return None


def _load(path: Path) -> epub.EpubBook:
    """`ebooklib.epub.read_epub`, with `_Reader`; every error of a broken package is an InputError."""
    try:
        reader = _Reader(str(path), {"ignore_ncx": True})
        book = reader.load()
        reader.process()
        return book
    except Exception as e:  # ebooklib lets its zip, XML and lookup errors through on a broken package
        why = str(e) or type(e).__name__
        raise InputError(f"{path.name} is not a readable EPUB: {why}", NOT_EPUB_HINT) from None


def _spine_docs(book: epub.EpubBook, landmarks: dict[str, str]) -> list[_Doc]:
    docs: list[_Doc] = []
    for idref, linear in book.spine:
        item = book.get_item_with_id(idref)
        if not isinstance(item, epub.EpubHtml) and getattr(item, "media_type", "") not in {"text/html"}:
            continue
        soup = parse_html(item.content)
        title = clean_paragraph(soup.title.get_text()) if soup.title else ""
        types = _doc_types(soup) | ({"toc"} if isinstance(item, epub.EpubNav) else set())
        hint = (
            skip_reason_for_types(types)
            or landmarks.get(item.file_name, "")
            or _FILE_SKIPS.get(re.sub(r"[^a-z]", "", posixpath.splitext(posixpath.basename(item.file_name))[0]), "")
            or ("not in the reading order (linear=no)" if str(linear).lower() == "no" else "")
        )
        body = soup.body or soup
        strip_apparatus(body)
        docs.append(_Doc(item.file_name, body, title, hint, nav=isinstance(item, epub.EpubNav)))
    return docs


def _doc_types(soup: BeautifulSoup) -> set[str]:
    """`epub:type`/`role` of the document as a whole: its body's and its first element's (looking through up
    to two wrappers without types, as converters add); "toc" when it holds a table-of-contents nav."""
    body = soup.body
    if body is None:
        return set()
    types = types_of(body)
    first = body.find(True)
    for _ in range(3):
        if not isinstance(first, Tag) or types_of(first) - NOTE_BODIES:
            break
        first = first.find(True)
    if isinstance(first, Tag):
        types |= types_of(first) - NOTE_BODIES
    if any(types_of(nav) & {"toc", "doc-toc"} for nav in body.find_all("nav")):
        types.add("toc")
    return types


def _nav_parts(docs: list[_Doc], entries: list[NavEntry]) -> list[_Part]:
    """The spine cut where the navigation's entries start (a document's start or an anchor in it); a document
    no entry names continues the part before it, unless it comes before the first chapter or is itself
    matter that is not read."""
    starts: dict[str, dict[str, NavEntry]] = {}
    by_name = {d.name: d for d in docs}
    for entry in entries:
        doc = by_name.get(entry.doc)
        if doc is not None:
            found = entry.fragment and doc.body.find(id=entry.fragment) is not None
            starts.setdefault(entry.doc, {}).setdefault(entry.fragment if found else "", entry)
    if not starts:
        return []
    parts: list[_Part] = []
    for doc in docs:
        doc_starts = starts.get(doc.name, {})
        if "" in doc_starts:
            parts.append(_Part(doc, doc_starts[""].title, skip=doc.hint, in_toc=True))
        elif not parts or not parts[-1].in_toc or doc.hint:
            parts.append(_Part(doc, skip=doc.hint))
        _cut(doc, doc_starts, parts)
    return parts


def _spine_parts(docs: list[_Doc]) -> list[_Part]:
    """Each spine document a chapter of its own (no usable navigation)."""
    parts: list[_Part] = []
    for doc in docs:
        parts.append(_Part(doc, skip=doc.hint))
        _cut(doc, {}, parts)
    return parts


def _cut(doc: _Doc, starts: dict[str, NavEntry], parts: list[_Part]) -> None:
    """Add a document's blocks to the last part, starting a new one at each navigation anchor, at Project
    Gutenberg's boilerplate (and after it), and at a heading that names matter not read ("Contents")."""
    for item in text_blocks(doc.body, set(starts) - {""}):
        if isinstance(item, Marker) and item.boilerplate:
            parts.append(_Part(doc, item.boilerplate, item.anchor, skip="licence"))
        elif isinstance(item, Marker) and not item.anchor:
            parts.append(_Part(doc, skip=doc.hint))
        elif isinstance(item, Marker):
            entry = starts[item.anchor]
            parts.append(_Part(doc, entry.title, item.anchor, skip_reason_for_types(item.types), in_toc=True))
        elif item.level and not parts[-1].skip and skip_reason_for_title(clean_paragraph(item.text)):
            title = clean_paragraph(item.text)
            parts.append(_Part(doc, title, skip=skip_reason_for_title(title), blocks=[item]))
        else:
            parts[-1].blocks.append(item)


def _section(part: _Part, landmarks: dict[str, str], opf_dir: str) -> Section:
    """A part as a `Section`: its title (the navigation's, else its first h1/h2, else the document's <title>,
    else the file name), its paragraphs without the heading that repeats the title, why it is skipped."""
    title = part.title or _first_heading(part.blocks) or part.doc.title or posixpath.basename(part.doc.name)
    blocks = _drop_title_headings(part.blocks, title)
    paragraphs = [p for p in (_paragraph(b) for b in blocks) if p is not None]
    key = f"{part.doc.name}#{part.fragment}" if part.fragment else part.doc.name
    source = posixpath.join(opf_dir, key) if opf_dir else key
    skip = part.skip or landmarks.get(key, "") or skip_reason_for_title(title)
    return Section(title=title, source=source, paragraphs=paragraphs, skip=skip)


def _paragraph(block: Block) -> Paragraph | None:
    return Paragraph(kind="scene_break") if block.scene_break else make_paragraph(block.text)


def _first_heading(blocks: list[Block]) -> str:
    heads = [b for b in blocks if b.level and b.text.strip()]
    top = [b for b in heads if b.level <= 2]
    return clean_paragraph((top or heads)[0].text) if heads else ""


def _words(text: str) -> str:
    return " " + " ".join(re.sub(r"[\W_]+", " ", text.casefold()).split()) + " "


def _drop_title_headings(blocks: list[Block], title: str) -> list[Block]:
    """Leading headings whose words are all in the title ("Chapter 1" and "Down the Rabbit-Hole" under
    "Chapter 1: Down the Rabbit-Hole"), or a leading paragraph that is the title, are not read twice."""
    words = _words(title)

    def repeats_title(block: Block) -> bool:
        said = _words(block.text)
        return not said.strip() or said == words or (bool(block.level) and said in words)

    i = 0
    while i < len(blocks) and not blocks[i].scene_break and repeats_title(blocks[i]):
        i += 1
    return blocks[i:]


class _Meta:
    """The package's Dublin Core metadata (ebooklib raises KeyError for a namespace the package lacks)."""

    def __init__(self, book: epub.EpubBook) -> None:
        self.book = book

    def values(self, name: str) -> list[tuple[str, dict[str, Any]]]:
        try:
            found = self.book.get_metadata("DC", name)
        except KeyError:
            return []
        return [(clean_paragraph(str(v or "")), dict(attrs or {})) for v, attrs in found if str(v or "").strip()]

    def first(self, name: str) -> str:
        values = self.values(name)
        return values[0][0] if values else ""

    def authors(self) -> str:
        """The dc:creator names whose role (opf:role, EPUB2) is author or not stated."""
        creators = self.values("creator")
        roles = [next((str(v) for k, v in attrs.items() if k.endswith("role")), "") for _, attrs in creators]
        authors = [name for (name, _), role in zip(creators, roles, strict=True) if role in {"", "aut"}]
        return ", ".join(authors or [name for name, _ in creators])


def _cover(book: epub.EpubBook) -> tuple[bytes | None, str]:
    """The cover image (EPUB3 cover-image, EPUB2 <meta name="cover">, else an image named cover) and its
    type, when it is a JPEG or PNG."""
    candidates = [item for item in book.get_items() if isinstance(item, epub.EpubCover)]
    try:
        metas = book.get_metadata("OPF", "cover")
    except KeyError:
        metas = []
    candidates += [book.get_item_with_id(attrs.get("content")) for _, attrs in metas if attrs]
    candidates += [
        item
        for item in book.get_items()
        if str(item.media_type).startswith("image/")
        and "cover" in f"{item.id} {posixpath.basename(item.file_name)}".lower()
    ]
    for item in candidates:
        content = getattr(item, "content", b"") or b""
        if content.startswith(b"\x89PNG\r\n\x1a\n"):
            return content, "image/png"
        if content.startswith(b"\xff\xd8\xff"):
            return content, "image/jpeg"
    return None, ""
