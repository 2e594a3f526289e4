"""An EPUB's navigation and its documents' structure, as the reader needs them: the chapters' starts from
the EPUB3 nav document (`<nav epub:type="toc">`) or the EPUB2 NCX; the sections that are not read aloud
(contents, copyright page, index ...) from EPUB3 landmarks, the EPUB2 guide and `epub:type` / `role` on the
content itself; a document's text blocks in order, with markers where the chapters' anchors are, after the
apparatus that is not read (page-break markers, note references and bodies) is removed.

Every href is resolved to the manifest path ebooklib names items by (relative to the OPF's folder).
"""

from __future__ import annotations

import posixpath
import re
import warnings
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from bs4 import BeautifulSoup, NavigableString, Tag, XMLParsedAsHTMLWarning
from ebooklib import epub

from pipeline.products.audiobook.cleaning import collapse_whitespace

# epub:type / role / landmark / guide types of sections that are not read aloud, and why
SKIP_TYPES = {
    "toc": "table of contents",
    "doc-toc": "table of contents",
    "landmarks": "table of contents",
    "page-list": "table of contents",
    "copyright-page": "copyright page",
    "cover": "cover",
    "doc-cover": "cover",
    "titlepage": "title page",
    "title-page": "title page",
    "halftitlepage": "title page",
    "index": "index",
    "doc-index": "index",
    "colophon": "colophon",
    "doc-colophon": "colophon",
    "loi": "list of illustrations",
    "lot": "list of tables",
    "endnotes": "notes (not read inline)",
    "rearnotes": "notes (not read inline)",
    "footnotes": "notes (not read inline)",
    "doc-endnotes": "notes (not read inline)",
    "notes": "notes (not read inline)",  # the EPUB2 guide's name for them
}

HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
BLOCKS = {
    *HEADINGS, "p", "div", "li", "blockquote", "pre", "dd", "dt", "figcaption", "caption", "td", "th", "tr",
    "table", "section", "article", "header", "footer", "main", "address", "center", "ul", "ol", "dl", "figure",
    "nav", "hgroup", "aside", "details", "summary", "hr", "body",
}  # fmt: skip
PAGE_BREAKS = {"pagebreak", "doc-pagebreak"}
NOTE_BODIES = {"footnote", "endnote", "rearnote", "note", "footnotes", "endnotes", "rearnotes"}
NOTE_BODIES |= {"doc-footnote", "doc-endnote", "doc-endnotes"}
NOTE_REFS = {"noteref", "doc-noteref"}
NOTE_CLASSES = {"footnote", "footnotes", "endnote", "endnotes"}
REF_CLASSES = {"fnanchor", "noteref", "footnote-ref", "footnote-reference"}
# Project Gutenberg's own sections in its EPUBs (header, licence): each is a part of its own, not read
BOILERPLATE = {"pg-header": "Project Gutenberg header", "pg-footer": "Project Gutenberg licence"}
_REF_TEXT = re.compile(r"^[\[(]?(?:\d{1,3}|[*\u2020\u2021\u00a7]+|[a-z])[\])]?$")


@dataclass(frozen=True)
class NavEntry:
    """A chapter's start: its title in the navigation, the document and the fragment ("" = its start)."""

    title: str
    doc: str
    fragment: str = ""


def parse_html(content: bytes) -> BeautifulSoup:
    """An XHTML or HTML document, parsed with lxml's (forgiving) HTML parser; `epub:type` stays an attribute
    of that name."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        return BeautifulSoup(content, "lxml")


def types_of(tag: Tag) -> set[str]:
    """The `epub:type` and `role` tokens of one element, lower case."""
    values = f"{tag.get('epub:type') or ''} {tag.get('role') or ''}"
    return {t.lower() for t in values.split()}


def skip_reason_for_types(types: set[str]) -> str:
    """Why a section of these types is not read ("" when it is)."""
    return next((SKIP_TYPES[t] for t in sorted(types) if t in SKIP_TYPES), "")


def resolve_href(base_dir: str, href: str) -> tuple[str, str]:
    """("doc path from the OPF folder", "fragment") of an href in a document in `base_dir`; ("", "") for an
    external link."""
    parts = urlsplit(href.strip())
    if parts.scheme or parts.netloc:
        return "", ""
    path = unquote(parts.path)
    doc = posixpath.normpath(posixpath.join(base_dir, path)) if path else ""
    return doc, unquote(parts.fragment)


def toc_entries(book: epub.EpubBook) -> list[NavEntry]:
    """The top level of the table of contents, in its order: the EPUB3 nav document's, else the NCX's.
    An entry without a link or without text gives way to its own sub-entries; deeper entries (sections
    of a chapter) are not chapters."""
    for item in book.get_items():
        if isinstance(item, epub.EpubNav):
            entries = _nav_toc(parse_html(item.content), posixpath.dirname(item.file_name))
            if entries:
                return entries
    for item in book.get_items():
        if isinstance(item, epub.EpubNcx) or item.media_type == "application/x-dtbncx+xml":
            entries = _ncx_toc(item.content, posixpath.dirname(item.file_name))
            if entries:
                return entries
    return []


def _nav_of_type(soup: BeautifulSoup, kind: str) -> Tag | None:
    return next((nav for nav in soup.find_all("nav") if kind in types_of(nav)), None)


def _nav_toc(soup: BeautifulSoup, base_dir: str) -> list[NavEntry]:
    nav = _nav_of_type(soup, "toc") or _nav_of_type(soup, "doc-toc")
    top = nav.find("ol") if nav else None
    return _nav_list(top, base_dir) if isinstance(top, Tag) else []


def _nav_list(ol: Tag, base_dir: str) -> list[NavEntry]:
    entries: list[NavEntry] = []
    for li in ol.find_all("li", recursive=False):
        link = li.find(["a", "span"], recursive=False)
        title = collapse_whitespace(link.get_text()) if isinstance(link, Tag) else ""
        doc, fragment = resolve_href(base_dir, str(link.get("href") or "")) if isinstance(link, Tag) else ("", "")
        if title and doc:
            entries.append(NavEntry(title, doc, fragment))
            continue
        sub = li.find("ol", recursive=False)
        if isinstance(sub, Tag):
            entries.extend(_nav_list(sub, base_dir))
    return entries


def _ncx_toc(content: bytes, base_dir: str) -> list[NavEntry]:
    soup = BeautifulSoup(content, "lxml-xml")
    nav_map = soup.find("navMap")
    return _ncx_points(nav_map, base_dir) if isinstance(nav_map, Tag) else []


def _ncx_points(parent: Tag, base_dir: str) -> list[NavEntry]:
    entries: list[NavEntry] = []
    for point in parent.find_all("navPoint", recursive=False):
        label = point.find("navLabel", recursive=False)
        content = point.find("content", recursive=False)
        title = collapse_whitespace(label.get_text()) if isinstance(label, Tag) else ""
        src = str(content.get("src") or "") if isinstance(content, Tag) else ""
        doc, fragment = resolve_href(base_dir, src)
        if title and doc:
            entries.append(NavEntry(title, doc, fragment))
        else:
            entries.extend(_ncx_points(point, base_dir))
    return entries


def landmark_types(book: epub.EpubBook) -> dict[str, str]:
    """Why each section named by the EPUB3 landmarks or the EPUB2 guide is not read, keyed "doc" or
    "doc#fragment"; sections these name that are read (bodymatter, preface ...) are not listed."""
    found: dict[str, str] = {}
    for item in book.get_items():
        if isinstance(item, epub.EpubNav):
            nav = _nav_of_type(parse_html(item.content), "landmarks")
            for a in nav.find_all("a", href=True) if nav else []:
                _add_landmark(found, posixpath.dirname(item.file_name), str(a["href"]), types_of(a))
    for ref in getattr(book, "guide", None) or []:
        _add_landmark(found, "", str(ref.get("href") or ""), {str(ref.get("type") or "").lower()})
    return found


def _add_landmark(found: dict[str, str], base_dir: str, href: str, types: set[str]) -> None:
    doc, fragment = resolve_href(base_dir, href)
    why = skip_reason_for_types(types)
    if doc and why:
        found.setdefault(f"{doc}#{fragment}" if fragment else doc, why)


@dataclass
class Block:
    """A block of text as written (a <p>, <li>, heading ...), or a scene break (<hr/>)."""

    text: str
    level: int = 0  # 1-6 for a heading
    scene_break: bool = False


@dataclass
class Marker:
    """Where an element with a chapter's anchor id starts, and its (and its ancestors') types."""

    anchor: str  # "" where a Project Gutenberg boilerplate section ends
    types: set[str]
    boilerplate: str = ""  # "Project Gutenberg header" / "... licence" where such a section starts


def strip_apparatus(body: Tag) -> None:
    """Remove what is not read: page-break markers, note references, note bodies, scripts; <br> as a break."""
    for tag in body.find_all(True):
        if tag.decomposed:
            continue
        types, classes = types_of(tag), set(tag.get("class") or [])
        if tag.name in {"script", "style", "svg", "math"}:
            tag.decompose()
        elif types & PAGE_BREAKS or "pagenum" in classes:
            # an empty marker (<span epub:type="pagebreak"/>) goes; one an HTML parser wrapped text in keeps it
            tag.decompose() if len(tag.get_text(strip=True)) <= 12 else tag.unwrap()
        elif types & NOTE_BODIES or classes & NOTE_CLASSES or tag.name == "aside":
            tag.decompose()
        elif types & NOTE_REFS or classes & REF_CLASSES or _is_ref_mark(tag):
            tag.decompose()
    for br in body.find_all("br"):
        br.replace_with("\n")


def _is_ref_mark(tag: Tag) -> bool:
    """<sup>1</sup>, <sup>*</sup>, <a href="#fn1">[1]</a>: a footnote mark."""
    linked = tag.name == "a" and "#" in str(tag.get("href") or "")
    return (tag.name == "sup" or linked) and bool(_REF_TEXT.match(tag.get_text(strip=True)))


def text_blocks(body: Tag, anchors: set[str]) -> list[Block | Marker]:
    """The document's text blocks in order (each <p>, <li>, heading ... without blocks inside; loose text
    between blocks as its own block), with a marker where each of `anchors` (element ids) starts."""
    out: list[Block | Marker] = []
    pending: list[str] = []

    def flush() -> None:
        if "".join(pending).strip():
            out.append(Block("".join(pending)))
        pending.clear()

    def mark(tag: Tag, deep: bool) -> None:
        for el in [tag, *(tag.find_all(id=True) if deep else [])]:
            if el.get("id") in anchors:
                flush()
                out.append(Marker(str(el["id"]), types_up(el)))

    def visit(parent: Tag) -> None:
        for child in parent.children:
            if type(child) is NavigableString:
                pending.append(str(child))
            elif isinstance(child, Tag) and _boilerplate(child):
                flush()
                out.append(Marker(str(child.get("id") or ""), types_of(child), boilerplate=_boilerplate(child)))
                visit_tag(child)
                flush()
                out.append(Marker("", set()))
            elif isinstance(child, Tag):
                mark(child, deep=child.find(BLOCKS) is None)
                visit_tag(child)

    def visit_tag(tag: Tag) -> None:
        if tag.name == "hr":
            flush()
            out.append(Block("", scene_break=True))
        elif tag.find(BLOCKS) is not None:
            flush()
            visit(tag)
            flush()
        elif tag.name in BLOCKS:
            flush()
            out.append(Block(tag.get_text(), level=HEADINGS.get(tag.name, 0)))
        else:
            pending.append(tag.get_text())

    visit(body)
    flush()
    return out


def _boilerplate(tag: Tag) -> str:
    if tag.get("id") in BOILERPLATE:
        return BOILERPLATE[str(tag["id"])]
    return "Project Gutenberg licence" if "pg-boilerplate" in (tag.get("class") or []) else ""


def types_up(tag: Tag) -> set[str]:
    """The `epub:type`/`role` tokens of an element and its ancestors: a chapter anchor inside
    <section epub:type="copyright-page"> starts a copyright page."""
    types = types_of(tag)
    for parent in tag.parents:
        if isinstance(parent, Tag) and parent.name not in {"[document]", "html"}:
            types |= types_of(parent)
    return types
