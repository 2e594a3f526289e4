"""audiobook: one manuscript (EPUB, Markdown or text) in, an ACX-ready narrated book out.

Wiring only: every task calls one stage function of `pipeline.products.audiobook` by reference
(dubline_tasks.run), imported inside the task so that parsing this file stays fast and imports no ML library.
`configure` validates the run's params once into a `BookRequest`; `read` reads the manuscript into chapters;
`narrate` is mapped over the chapters (one task instance per chapter, retried and resumed on its own; chunks
are content-addressed, so a re-run narrates only what changed); `package` builds the m4b and the per-chapter
MP3s from all of them; `publish` delivers the files, the QA and ACX report and the provenance.

Started by hand, by `dubline audiobook`, or by `audiobook_inbox` for each new manuscript of an inbox.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Param, dag, task
from dubline_tasks import DEFAULT_ARGS, XCom, fail_fast, placed, run


@dag(
    dag_id="audiobook",
    schedule=None,
    catchup=False,
    max_active_runs=2,
    tags=["dubline", "audiobook"],
    default_args=DEFAULT_ARGS,
    params={
        "book": Param(
            "",
            type="string",
            minLength=1,
            description="the manuscript: EPUB, Markdown or plain text; a path, file:// or s3:// URI",
        ),
        "output": Param("", type="string", description="folder, file:// or s3:// location; empty = the store"),
        "voice": Param(
            "",
            type="string",
            description="narrator: ENGINE:VOICE (a stock voice, e.g. kokoro:jm_kumo), person:ID (their "
            "consented, cloned voice), or empty (the stock voice for the book's language)",
        ),
        "style": Param(
            "",
            type="string",
            enum=["", "neutral", "warm", "excited", "calm", "serious"],
            description="a named delivery style for the narration; empty = neutral",
        ),
        "lexicon": Param(
            "",
            type="string",
            description="pronunciation lexicon: a TSV file (word, how to say it), path or URI; empty = none",
        ),
        "language": Param(
            "",
            type="string",
            description="ISO 639-1 code; empty = the manuscript's metadata (else English)",
        ),
        "narrator": Param("", type="string", description="narrator's name for the tags; empty = the voice's"),
        "ident": Param(
            "",
            type="string",
            enum=["", "calm", "bright", "tense", "sad"],
            description="a composed musical ident before the narration and a closing bed after it; empty = none",
        ),
        "ident_at": Param(
            "book", type="string", enum=["book", "chapter"], description="book: first and last chapter; chapter: each"
        ),
        "read_all": Param(
            False,
            type="boolean",
            description="also read front and back matter (table of contents, copyright page)",
        ),
    },
    doc_md=__doc__,
)
def audiobook() -> None:
    @task
    def configure(params: dict[str, object] | None = None) -> XCom:
        from pipeline.core.errors import DublineError
        from pipeline.products.audiobook.contracts import BookRequest

        try:
            return BookRequest.from_params(dict(params or {})).to_xcom()
        except DublineError as e:
            raise fail_fast(e) from e

    @task
    def read(request: XCom) -> XCom:
        from pipeline.products.audiobook import read
        from pipeline.products.audiobook.contracts import BookRequest

        return run(read.read_book, BookRequest.from_xcom(request))

    @task
    def chapters(book: XCom) -> list[int]:
        from pipeline.core.errors import InputError
        from pipeline.products.audiobook.contracts import BookRead

        read_book = BookRead.from_xcom(book)
        if not read_book.chapters:  # mapped over nothing, narrate, package and publish would all be skipped
            raise fail_fast(InputError(f"{read_book.filename}: no chapter to narrate", "check the manuscript"))
        return [c.index for c in read_book.chapters]

    # at most two chapters at once per book: each loads a voice and Whisper (about 1 GB), and a worker has
    # few cores; the other chapters queue
    @task(map_index_template="{{ chapter_label }}", max_active_tis_per_dagrun=2)
    def narrate(request: XCom, book: XCom, index: int) -> XCom:
        from airflow.sdk import get_current_context

        from pipeline.products.audiobook import narrate
        from pipeline.products.audiobook.contracts import BookRead, BookRequest

        read_book = BookRead.from_xcom(book)
        title = next((c.title for c in read_book.chapters if c.index == index), "")
        # the mapped instance's name in Airflow's UI: the chapter's number and title
        get_current_context()["chapter_label"] = f"{index:02d} {title}".strip()  # type: ignore[typeddict-unknown-key]
        return run(narrate.narrate_chapter, BookRequest.from_xcom(request), read_book, index)

    @task
    def package(request: XCom, book: XCom, narrated: list[XCom]) -> XCom:
        from pipeline.products.audiobook import package
        from pipeline.products.audiobook.contracts import BookRead, BookRequest, ChapterNarrated

        return run(
            package.package_book,
            BookRequest.from_xcom(request),
            BookRead.from_xcom(book),
            [ChapterNarrated.from_xcom(c) for c in narrated],
        )

    @task
    def publish(request: XCom, book: XCom, narrated: list[XCom], packaged: XCom) -> XCom:
        from pipeline.products.audiobook import publish
        from pipeline.products.audiobook.contracts import BookRead, BookRequest, ChapterNarrated, Packaged

        return run(
            publish.publish_book,
            BookRequest.from_xcom(request),
            BookRead.from_xcom(book),
            [ChapterNarrated.from_xcom(c) for c in narrated],
            Packaged.from_xcom(packaged),
        )

    # Wiring: Airflow hands each task its upstream's XCom document at run time; here they are XComArgs,
    # which the task signatures (XCom documents) do not name, hence Any.
    request: Any = configure()
    book: Any = read(request)
    narrated: Any = narrate.partial(request=request, book=book).expand(index=chapters(book))
    packaged: Any = package(request, book, narrated)
    publish(request, book, narrated, packaged)


audiobook_dag = placed(audiobook())
