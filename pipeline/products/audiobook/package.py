"""package: the m4b (AAC, chapter markers with titles, tags and cover) and one MP3 per chapter (192 kbit/s CBR,
44.1 kHz) built from the mastered chapters, each marked with the book's watermark first (one payload, this
stage's key, in every chapter: the m4b joins them), then signed with C2PA content credentials. Each chapter's
ACX figures are measured again on its delivered MP3: what a retailer's check reads.

Content-addressed by the chapters' stage keys, the book's metadata and the signer: a re-run after one chapter
changed rebuilds the files (encoding is minutes for a long book, not hours) but narrates nothing again.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path
from typing import Any

from pipeline.core.config import Settings
from pipeline.core.errors import StageError
from pipeline.core.stagerun import StageRun, run_stage
from pipeline.core.storage import key_of
from pipeline.products.audiobook.contracts import BookRead, BookRequest, ChapterNarrated, Packaged

DESCRIPTION = (
    "narrated: the audiobook is synthetic speech (text to speech) reading the manuscript, mastered to ACX's "
    "submission rules"
)
M4B_BITRATE = "128k"


def narrator_name(request: BookRequest, chapters: list[ChapterNarrated]) -> str:
    """The narrator's name for the tags: the request's, else the person's, else the voice's."""
    if request.narrator:
        return request.narrator
    if not chapters:
        return "dubline"
    voice = chapters[0].voice
    if voice.person:
        return voice.person
    return f"{voice.voice} ({voice.engine.get('id', 'dubline')}, synthetic voice)"


def _mark_material(settings: Settings) -> dict[str, str] | None:
    from pipeline.ledger import marking

    return marking.material(settings)


def mp3_name(stem: str, index: int) -> str:
    return f"{stem}.ch{index:02d}.mp3"


def _still_consented(settings: Settings, book: BookRead, chapters: list[ChapterNarrated]) -> None:
    """A person's voice is checked once more before its book is built: a consent revoked after the last chapter
    was narrated stops the book before anything is delivered."""
    from models.base import Voice
    from pipeline.products.audiobook.narrator import USE
    from pipeline.voice.consent import require_consent

    for c in chapters[:1]:
        if c.voice.person:
            voice = Voice(c.voice.engine.get("id", ""), c.voice.voice, book.language, c.voice.person)
            require_consent(voice, USE, book.language, date.today(), settings)


def package_book(settings: Settings, request: BookRequest, book: BookRead, chapters: list[ChapterNarrated]) -> Packaged:
    from pipeline.ledger.certificates import init_signer

    ordered = sorted(chapters, key=lambda c: c.index)
    if [c.index for c in ordered] != [c.index for c in book.chapters]:
        missing = sorted({c.index for c in book.chapters} - {c.index for c in ordered})
        raise StageError(f"{book.filename}: chapters {missing} were not narrated", "run the book again")
    _still_consented(settings, book, ordered)
    narrator = narrator_name(request, ordered)
    signer = init_signer(settings)[0].fingerprint() if settings.c2pa_sign else None
    material = {
        "book": book.key,
        "filename": book.filename,  # its files and credentials name the job's input (read_book is keyed by content)
        "chapters": [c.key for c in ordered],
        "narrator": narrator,
        "bitrate": M4B_BITRATE,
        "signer": signer,
        "watermark": _mark_material(settings),
    }

    def work(run: StageRun) -> Packaged:
        return _package(settings, run, book, ordered, narrator)

    return run_stage(settings, "package_book", material, work, Packaged, label=book.stem)


def _package(
    settings: Settings, run: StageRun, book: BookRead, chapters: list[ChapterNarrated], narrator: str
) -> Packaged:
    from pipeline.ledger.signing import sign_checked
    from pipeline.products.audiobook.encode import BookTags, write_m4b, write_mp3

    cover = None
    cover_type = ""
    if book.cover_uri:
        cover = run.store.get_bytes(key_of(run.store, book.cover_uri))
        cover_type = "image/png" if book.cover_uri.endswith(".png") else "image/jpeg"
    tags = BookTags(
        title=book.title,
        author=book.author,
        narrator=narrator,
        language=book.language,
        cover=cover,
        cover_type=cover_type,
    )
    wavs, mark = _marked(settings, run, chapters)
    job = {
        "product": "audiobook",
        "input": {"filename": book.filename, "sha256": book.source_sha256},
        "language": book.language,
        "title": book.title,
        "author": book.author,
        "narrator": narrator,
        "chapters": [{"index": c.index, "title": c.title, "key": c.key} for c in chapters],
        "voice": chapters[0].voice.model_dump(),
    }
    generated = [{"chapter": c.index, **c.music} for c in chapters if c.music]
    if generated:  # composed music is machine-made: said so in the credentials
        job["generated_audio"] = generated
    consents = sorted({cid for c in chapters for cid in c.consents})
    marks = [mark] if mark and "payload" in mark else []
    unsigned = run.scratch / "unsigned"
    unsigned.mkdir()
    m4b = unsigned / f"{book.stem}.m4b"
    markers = write_m4b(wavs, m4b, tags, bitrate=M4B_BITRATE)
    built = {m4b.name: m4b}
    for n, (c, (_, wav)) in enumerate(zip(chapters, wavs, strict=True), start=1):
        mp3 = unsigned / mp3_name(book.stem, c.index)
        write_mp3(wav, mp3, tags, n, len(chapters), c.title)
        built[mp3.name] = mp3
    uris: dict[str, str] = {}
    signed: dict[str, Any] = {}
    for name, path in built.items():
        final = path
        if settings.c2pa_sign:
            final = run.scratch / name
            signed[name] = sign_checked(settings, path, final, name, job, consents, marks, DESCRIPTION)
        uris[name] = run.put(name, final)
    acx = {str(c.index): _acx_of_mp3(built[mp3_name(book.stem, c.index)], run) for c in chapters}
    m4b_name = m4b.name
    return Packaged(
        m4b_uri=uris.pop(m4b_name),
        mp3=uris,
        markers=[{**m} for m in markers],
        duration_s=round(sum(c.duration_s for c in chapters), 3),
        acx=acx,
        watermark=mark,
        c2pa={"signed": signed, "skipped": {} if settings.c2pa_sign else {"*": "signing is off"}},
    )


def _marked(
    settings: Settings, run: StageRun, chapters: list[ChapterNarrated]
) -> tuple[list[tuple[str, Path]], dict[str, Any] | None]:
    """Each chapter's WAV with the book's mark in it (payload: this stage's key), on the grid of the whole book:
    marked from where the chapter starts in the m4b, so the m4b reads as one mark (a chapter marked from its own
    start would break the grid where it is joined), and the chapter's MP3 alone reads too (the detector finds
    the grid's phase). Returns the WAVs and the mark's facts: scheme, key id, payload, the weakest SNR, the
    chapters too short to carry it."""
    import soundfile as sf

    from pipeline.audio import loudness
    from pipeline.ledger import marking

    payload = marking.payload_for(run.prefix)
    out: list[tuple[str, Path]] = []
    info: dict[str, Any] | None = None
    unmarked: list[int] = []
    snrs: list[float] = []
    start = 0.0
    for c in chapters:
        src = run.fetch(c.audio_uri)
        path = run.scratch / f"ch{c.index:02d}.wav"
        shutil.copyfile(src, path)
        made = marking.mark_track(settings, path, payload, loudness.profile("acx"), phase_s=start).info
        if made is not None:
            if "skipped" in made:
                unmarked.append(c.index)
            else:
                snrs.append(float(made["snr_db"]))
            info = {k: v for k, v in made.items() if k not in ("snr_db", "trim_db", "skipped")}
        out.append((c.title, path))
        meta = sf.info(str(path))
        start += meta.frames / meta.samplerate
    if info is not None:
        info.update({"min_snr_db": min(snrs) if snrs else None, "unmarked_chapters": unmarked})
    return out, info


def _acx_of_mp3(mp3: Path, run: StageRun) -> dict[str, Any]:
    """ACX's figures of a delivered MP3, decoded as a retailer's checker decodes it."""
    import ffmpeg

    from pipeline.audio.media import run as run_ffmpeg
    from pipeline.products.audiobook.mastering import measure_acx

    wav = run.scratch / f"{mp3.stem}.decoded.wav"
    run_ffmpeg(ffmpeg.input(str(mp3)).output(str(wav), ac=1, ar=44100, acodec="pcm_f32le"), f"decode {mp3.name}")
    report = measure_acx(wav).model_dump(mode="json")
    wav.unlink()
    return report
