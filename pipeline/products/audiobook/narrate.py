"""narrate: one chapter spoken chunk by chunk, re-heard and mastered to ACX.

1. The chapter's chunks (chunking.chapter_chunks: the title, then each sentence, with the lexicon and the
   language's normalization applied, each with its pause).
2. Each chunk is spoken by the narrator (narrator.choose_narrator); a person's voice is checked against its
   consent for `audiobook` before every chunk, so a revocation while a book runs stops the chunks not yet
   spoken. Clips are content-addressed (text, engine, voice, delivery): a re-run after a crash, or after one
   paragraph was edited, speaks only the chunks it has not spoken before.
3. QA: every chunk is heard again (pipeline.speech.hearing, all chunks together in Whisper windows); one heard
   wrong is synthesized again with varied settings (pipeline.speech.qa) and the best attempt kept. Verdicts are
   stored beside the clips, so an unchanged chunk is not heard twice.
4. The clips and pauses are joined (mastering.assemble) and mastered to ACX (mastering.master: room tone, RMS,
   peak ceiling). The watermark goes in when the book is packaged (one payload for the whole book, so that the
   m4b, which joins every chapter, carries one mark).
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from pathlib import Path
from typing import Any

from models.base import Prosody
from pipeline.core.config import Settings
from pipeline.core.errors import ConfigError
from pipeline.core.inputs import resolve_input
from pipeline.core.script import LineQA
from pipeline.core.stagerun import StageRun, digest, open_settings_store, run_stage
from pipeline.core.storage import ObjectStore, get_json, key_of, put_json
from pipeline.products.audiobook.book import Book
from pipeline.products.audiobook.chunking import Chunk, Pauses, chapter_chunks
from pipeline.products.audiobook.contracts import BookRead, BookRequest, ChapterNarrated
from pipeline.products.audiobook.narrator import USE, Narrator, choose_narrator, describe, reference_of
from pipeline.text.lexicon import Lexicon
from pipeline.voice.consent import record_voice_output
from pipeline.voice.speak import clip_key, synth_clip

MASTERING_VERSION = 1  # bump when mastering changes what a chapter sounds like
IDENT_S, CLOSING_S = 6.0, 8.0  # the opening ident's and the closing bed's length
MUSIC_BELOW_DB = 6.0  # music sits this far below the narration's RMS (ACX: music must not drown the voice)
MUSIC_GAP_S = 1.0  # silence between the music and the narration


def load_book(store: ObjectStore, book: BookRead) -> Book:
    return Book.model_validate(get_json(store, key_of(store, book.book_uri)))


def load_lexicon(settings: Settings, where: str) -> Lexicon | None:
    """The request's pronunciation lexicon (a path or URI), or None."""
    if not where:
        return None
    scratch = settings.data_dir / "work" / "inputs"
    scratch.mkdir(parents=True, exist_ok=True)
    path = resolve_input(where, scratch, settings)
    if not path.is_file():
        raise ConfigError(f"lexicon {where} does not exist", "give the path of a TSV file: word<TAB>how to say it")
    return Lexicon.load(path)


def delivery(style: str) -> tuple[Prosody, Pauses]:
    """The engine's controls and the pauses of a named style (neutral when none)."""
    if not style:
        return Prosody(), Pauses()
    from pipeline.speech.prosody import get_style, style_prosody

    return style_prosody(style), Pauses().scaled(get_style(style).pause)


def narrate_chapter(
    settings: Settings, request: BookRequest, book: BookRead, index: int, today: str | None = None
) -> ChapterNarrated:
    """Narrate chapter `index` (1-based) of `book`; a content-addressed stage per chapter."""
    info = next((c for c in book.chapters if c.index == index), None)
    if info is None:
        raise ConfigError(f"{book.filename} has no chapter {index}", f"chapters are 1 to {len(book.chapters)}")
    day = date.fromisoformat(today) if today else date.today()
    lang = book.language
    store = open_settings_store(settings)
    chapter = load_book(store, book).chapters[index - 1]
    lexicon = load_lexicon(settings, request.lexicon)
    prosody, pauses = delivery(request.style)
    chunks = chapter_chunks(chapter, lang, lexicon, pauses=pauses)
    narrator = choose_narrator(settings, request.voice, lang, day, book.filename)
    material: dict[str, Any] = {
        "chapter": info.sha256,
        "language": lang,
        "lexicon": lexicon.sha256 if lexicon else None,
        "chunks": [c.id for c in chunks],
        "voice": narrator.describe(),
        "style": request.style,
        "qa": _qa_config(settings),
        "mastering": MASTERING_VERSION,
    }
    music = _music(request, index, len(book.chapters), info.sha256)
    if music is not None:
        material["music"] = dataclasses.asdict(music)

    def work(run: StageRun) -> ChapterNarrated:
        narration = _Narration(settings, run, narrator, lang, day, prosody, music)
        return narration.chapter(index, chapter.title, chunks)

    return run_stage(settings, "narrate", material, work, ChapterNarrated, label=f"ch{index:02d}")


@dataclasses.dataclass(frozen=True)
class _Music:
    """A chapter's composed ident before the narration and closing bed after it (`--ident MOOD`)."""

    mood: str
    opening: bool
    closing: bool
    seed: int
    ident_s: float = IDENT_S
    closing_s: float = CLOSING_S
    below_db: float = MUSIC_BELOW_DB


def _music(request: BookRequest, index: int, chapters: int, chapter_sha: str) -> _Music | None:
    if not request.ident:
        return None
    every = request.ident_at == "chapter"
    opening, closing = every or index == 1, every or index == chapters
    if not (opening or closing):
        return None
    return _Music(request.ident, opening, closing, int(chapter_sha[:8], 16))


def _qa_config(settings: Settings) -> dict[str, Any]:
    return {"on": settings.qa, "max_wer": settings.qa_max_wer, "retries": settings.qa_retries}


@dataclasses.dataclass
class _Spoken:
    chunk: Chunk
    uri: str
    seconds: float
    local: Path
    qa: LineQA | None = None
    retried: bool = False


@dataclasses.dataclass
class _Narration:
    settings: Settings
    run: StageRun
    narrator: Narrator
    lang: str
    day: date
    prosody: Prosody
    music: _Music | None = None

    def chapter(self, index: int, title: str, chunks: list[Chunk]) -> ChapterNarrated:
        from pipeline.products.audiobook.mastering import master
        from pipeline.speech import qa as line_qa

        settings, run = self.settings, self.run
        made = 0
        spoken: list[_Spoken] = []
        for n, chunk in enumerate(chunks):
            fresh = not run.store.exists(clip_key(self.narrator.tts, self.narrator.voice, chunk.said, self.prosody))
            spoken.append(self._speak(chunk, self.prosody))
            made += int(fresh)
            run.step(n + 1, len(chunks), f"chapter {index}: chunk {n + 1}")
        if settings.qa and spoken:
            self._check(spoken)
        qas = [s.qa for s in spoken if s.qa is not None]
        raw = self._assemble(spoken)
        music = self._add_music(raw) if self.music is not None else None
        mastered = self.run.scratch / "chapter.wav"
        acx = master(raw, mastered).model_dump(mode="json")
        audio_uri = run.put("chapter.wav", mastered)
        report = [
            {
                "id": s.chunk.id,
                "kind": s.chunk.kind,
                "text": s.chunk.text,
                "said": s.chunk.said,
                "pause_after_s": s.chunk.pause_after_s,
                "seconds": round(s.seconds, 3),
                "clip": s.uri,
                "qa": s.qa.model_dump(mode="json") if s.qa else None,
            }
            for s in spoken
        ]
        report_uri = run.put_bytes("chunks.json", json.dumps({"chunks": report}, indent=1).encode())
        return ChapterNarrated(
            index=index,
            title=title,
            audio_uri=audio_uri,
            duration_s=round(float(acx["duration_s"]), 3),
            chunks=len(chunks),
            synthesized=made,
            chars=sum(len(c.text) for c in chunks),
            voice=describe(self.narrator),
            consents=[self.narrator.consent_id] if self.narrator.consent_id is not None else [],
            acx=acx,
            qa=(
                {**line_qa.summarize(qas), "retried": sum(s.retried for s in spoken), "asr": self._asr_info()}
                if settings.qa
                else None
            ),
            report_uri=report_uri,
            music=music,
        )

    def _add_music(self, raw: Path) -> dict[str, Any]:
        """The ident before the narration and the closing bed after it (what the request asks of this chapter),
        each `below_db` under the narration's RMS; `raw` rewritten. Returns their provenance (generated)."""
        from pipeline.audio.beds import ident, make_bed
        from pipeline.products.audiobook.mastering import assemble

        m = self.music
        assert m is not None
        work = self.run.scratch
        narration = _active_rms(raw)
        parts: list[tuple[Path, float]] = []
        doc: dict[str, Any] = {"mood": m.mood, "below_narration_db": m.below_db}
        if m.opening:
            made = ident(m.mood, m.ident_s, dest=work / "ident.wav", seed=m.seed)
            parts.append((_at_level(made.path, narration - m.below_db, work / "ident_lvl.wav"), MUSIC_GAP_S))
            doc["opening"] = made.provenance
        parts.append((raw, MUSIC_GAP_S if m.closing else 0.0))
        if m.closing:
            made = make_bed(f"compose:{m.mood}", m.closing_s, work / "closing.wav", seed=m.seed + 1)
            parts.append((_at_level(made.path, narration - m.below_db, work / "closing_lvl.wav"), 0.0))
            doc["closing"] = made.provenance
        joined = work / "with_music.wav"
        assemble(parts, joined)
        joined.replace(raw)
        return doc

    def _asr_info(self) -> dict[str, str]:
        """The model QA heard the chunks with (for provenance)."""
        from pipeline.core.engines import get_asr

        return get_asr(self.settings).info.as_dict()

    def _speak(self, chunk: Chunk, prosody: Prosody) -> _Spoken:
        nr = self.narrator
        nr.gate(self.lang, self.day)  # a revocation mid-book stops the chunks not yet spoken
        uri, seconds, local = synth_clip(self.run.store, nr.tts, nr.voice, chunk.said, prosody, self.run.scratch)
        record_voice_output(self.settings, nr.voice, nr.consent_id, uri, nr.tts.info.as_dict(), USE, self.lang)
        return _Spoken(chunk, uri, seconds, local)

    def _check(self, spoken: list[_Spoken]) -> None:
        """Every chunk heard again (verdicts reused from earlier runs where the clip and the check are the same);
        a chunk heard wrong is synthesized again with varied settings and the best attempt kept."""
        from pipeline.speech import hearing

        settings, store = self.settings, self.run.store
        reference = reference_of(settings, self.narrator, self.lang)
        todo = []
        for s in spoken:
            cached = _cached_verdict(store, s, self.lang, settings)
            if cached is not None:
                s.qa = cached
            else:
                todo.append(s)
        if not todo:
            return
        checker = hearing.LineChecker.from_settings(settings)
        verdicts = checker.check_many([(s.local, s.chunk.text, reference) for s in todo], self.lang)
        for n, (s, verdict) in enumerate(zip(todo, verdicts, strict=True)):
            s.qa = verdict
            if not verdict.passed and settings.qa_retries > 0:
                self._retry(s, checker, reference)
            assert s.qa is not None
            put_json(store, _verdict_key(store, s, self.lang, settings), s.qa.model_dump(mode="json"))
            self.run.step(n + 1, len(todo), f"qa {s.chunk.id}")

    def _retry(self, s: _Spoken, checker: Any, reference: Any) -> None:
        from models.text import normalise_for_speech
        from pipeline.speech import qa

        made: dict[Path, tuple[str, float]] = {s.local: (s.uri, s.seconds)}

        def make(attempt: int) -> tuple[Path, str]:
            v = qa.variant(attempt)
            said = normalise_for_speech(s.chunk.said, self.lang) if v["normalise"] else s.chunk.said
            rate = round(self.prosody.rate * float(v["rate"]), 4)
            nr = self.narrator
            nr.gate(self.lang, self.day)
            p = dataclasses.replace(self.prosody, rate=rate)
            uri, seconds, local = synth_clip(self.run.store, nr.tts, nr.voice, said, p, self.run.scratch)
            record_voice_output(self.settings, nr.voice, nr.consent_id, uri, nr.tts.info.as_dict(), USE, self.lang)
            made[local] = (uri, seconds)
            return local, f"{v['name']} (rate {rate:.2f})"

        assert s.qa is not None
        chosen, verdict = qa.synthesize_checked(
            make, s.chunk.text, self.lang, checker, self.settings, reference, first=(s.local, s.qa)
        )
        s.qa = verdict
        if chosen != s.local:
            s.uri, s.seconds = made[chosen]
            s.local = chosen
            s.retried = True

    def _assemble(self, spoken: list[_Spoken]) -> Path:
        from pipeline.products.audiobook.mastering import assemble

        raw = self.run.scratch / "narration.wav"
        assemble([(s.local, s.chunk.pause_after_s) for s in spoken], raw)
        return raw


def _active_rms(path: Path) -> float:
    """RMS in dBFS of a recording's 50 ms frames above -50 dBFS (its speech, pauses left out)."""
    import numpy as np
    import soundfile as sf

    x, _ = sf.read(str(path), dtype="float32", always_2d=True)
    mono = x.mean(axis=1)
    hop = 2205
    frames = mono[: len(mono) // hop * hop].reshape(-1, hop)
    rms = np.sqrt(np.mean(np.square(frames, dtype=np.float64), axis=1)) if frames.size else np.zeros(0)
    loud = rms[rms > 10 ** (-50 / 20)]
    return float(20 * np.log10(np.sqrt(np.mean(loud**2)))) if loud.size else -20.0


def _at_level(src: Path, rms_db: float, dest: Path) -> Path:
    """`src` scaled so its RMS (over the whole file) is `rms_db` dBFS."""
    import numpy as np
    import soundfile as sf

    x, rate = sf.read(str(src), dtype="float32", always_2d=True)
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0
    gain = 10 ** (rms_db / 20) / rms if rms > 0 else 0.0
    sf.write(str(dest), (x * gain).astype(np.float32), rate, subtype="FLOAT")
    return dest


def _verdict_key(store: ObjectStore, s: _Spoken, lang: str, settings: Settings) -> str:
    """Where a chunk's QA verdict is kept: beside its clip, keyed by what the verdict depends on."""
    ident = digest({"clip": key_of(store, s.uri), "text": s.chunk.text, "lang": lang, "qa": _qa_config(settings)})
    return f"{key_of(store, s.uri).removesuffix('.wav')}.qa/{ident[:24]}.json"


def _cached_verdict(store: ObjectStore, s: _Spoken, lang: str, settings: Settings) -> LineQA | None:
    key = _verdict_key(store, s, lang, settings)
    if not store.exists(key):
        return None
    return LineQA.model_validate(get_json(store, key))
