"""Hearing synthesized lines again: Whisper on each clip (or on windows of several clips joined by silence),
the word error rate of what it heard against the intended text (models.text.heard_wer), and the voice's
similarity to the one assigned. `LineChecker` gives each line a LineQA; the retry loop that acts on it is
pipeline.speech.qa.

How a stage uses it: build one `LineChecker.from_settings(settings)`; synthesize every line once;
`checker.check_many(...)` hears them together in ~24 s Whisper windows (Whisper encodes 30 s however short the
clip, so one call per line costs about 2.5x more); a line that fails goes to `qa.synthesize_checked`, which
checks each retry alone with `checker.check`.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from models.base import ASR, EngineError, EngineUnavailable, Transcription, Word
from models.system import base_language
from models.text import heard_wer
from pipeline.core.script import LineQA

if TYPE_CHECKING:
    from models.speaker import SpeakerEncoder
    from pipeline.core.config import Settings

SAMPLE_RATE = 16000
PAD_S = 0.5  # silence added each side of a clip before Whisper hears it (short clips hallucinate less)
WINDOW_S = 24.0  # at most this much audio per Whisper call when lines are heard together (its window is 30 s)
GAP_S = 1.0  # silence between lines heard together


def join_words(words: Sequence[str]) -> str:
    """ASR word texts as one line: a word that starts with punctuation or an apostrophe is attached to the
    one before (Whisper splits "3,000" into "3" ",000" and "d'être" into "d" "'être")."""
    out = ""
    for w in (x.strip() for x in words):
        if not w:
            continue
        out += w if (out and not (w[0].isalnum())) else (" " + w if out else w)
    return out


class LineChecker:
    """Hears synthesized lines again (Whisper) and measures their voice (speaker embedding).

    Built once per stage. Whisper is given each clip padded with PAD_S of silence each side, as a 16 kHz
    mono WAV, with the line's language, and without VAD (a voice-activity filter could trim a short TTS
    line away; `from_settings` turns it off). `seconds` and `audio_s` add up the time spent hearing and
    the audio heard, for the real-time factor of QA.
    """

    def __init__(
        self,
        asr: ASR,
        encoder: SpeakerEncoder | None = None,
        max_wer: float = 0.34,
        pad_s: float = PAD_S,
    ) -> None:
        self.asr = asr
        self.encoder = encoder
        self.max_wer = max_wer
        self.pad_s = pad_s
        self.seconds = 0.0
        self.audio_s = 0.0

    @classmethod
    def from_settings(cls, settings: Settings, encoder: SpeakerEncoder | None = None) -> LineChecker:
        """The configured Whisper without VAD, and Resemblyzer (loaded only when a reference is given)."""
        from pipeline.core.engines import get_asr

        asr = get_asr(settings.model_copy(update={"asr_vad": False}))
        if encoder is None:
            from models.speaker import ResemblyzerEncoder

            encoder = ResemblyzerEncoder()
        return cls(asr, encoder, max_wer=settings.qa_max_wer)

    def _transcribe(self, samples: np.ndarray, language: str) -> Transcription:
        """Whisper on 16 kHz mono samples (written to a temporary WAV, as the ASR adapters take files)."""
        import soundfile as sf

        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="dubline-qa-") as tmp:
            wav = Path(tmp) / "clip16k.wav"
            sf.write(str(wav), samples, SAMPLE_RATE, subtype="PCM_16")
            transcription = self.asr.transcribe(wav, language=base_language(language) or None)
        self.seconds += time.perf_counter() - started
        return transcription

    def hear(self, clip_path: Path, language: str) -> str:
        """What Whisper hears in the clip (padded with silence), told the language."""
        from models.speaker import decode_audio

        samples = decode_audio(Path(clip_path), SAMPLE_RATE)
        pad = np.zeros(int(round(self.pad_s * SAMPLE_RATE)), dtype=np.float32)
        transcription = self._transcribe(np.concatenate([pad, samples, pad]), language)
        self.audio_s += len(samples) / SAMPLE_RATE
        return " ".join(s.text.strip() for s in transcription.segments if s.text.strip())

    def hear_many(
        self, clip_paths: Sequence[Path], language: str, window_s: float = WINDOW_S, gap_s: float = GAP_S
    ) -> list[str]:
        """What Whisper hears in each clip, heard in windows of several clips joined by `gap_s` of silence
        (at most `window_s` of audio each). Why: Whisper encodes a 30 s window however short the audio, so
        one line per call wastes most of the work (measured about 2.6x faster per line), and the context
        of neighbouring lines helps it with robotic voices. Words go to the clip whose span (with half a
        gap either side) holds the word's midpoint; a clip alone in its window is heard as by `hear`."""
        from models.speaker import decode_audio

        clips = [decode_audio(Path(p), SAMPLE_RATE) for p in clip_paths]
        heard = [""] * len(clips)
        gap = np.zeros(int(round(gap_s * SAMPLE_RATE)), dtype=np.float32)
        half = gap[: len(gap) // 2]
        groups: list[list[int]] = []
        length = 0.0
        for i, c in enumerate(clips):
            d = len(c) / SAMPLE_RATE + gap_s
            if not groups or length + d > window_s:
                groups.append([])
                length = 0.0
            groups[-1].append(i)
            length += d
        for group in groups:
            if len(group) == 1:
                heard[group[0]] = self.hear(Path(clip_paths[group[0]]), language)
                continue
            parts, spans, pos = [half], [], len(half) / SAMPLE_RATE
            for i in group:
                end = pos + len(clips[i]) / SAMPLE_RATE
                spans.append((i, pos - gap_s / 2, end + gap_s / 2))
                parts += [clips[i], gap]
                pos = end + gap_s
            transcription = self._transcribe(np.concatenate(parts), language)
            self.audio_s += sum(len(clips[i]) for i in group) / SAMPLE_RATE
            pieces = [
                (w.text, (w.start + w.end) / 2)
                for seg in transcription.segments
                for w in (seg.words or (Word(seg.text, seg.start, seg.end, 1.0),))
                if w.text.strip()
            ]
            for i, start, stop in spans:
                heard[i] = join_words([t for t, mid in pieces if start <= mid < stop])
        return heard

    def similarity(self, clip_path: Path, reference_embedding: np.ndarray | None) -> float | None:
        """Cosine of the clip's voice to the reference; None without a reference or encoder, or when the
        clip holds less speech than the encoder needs (about 1 s)."""
        if reference_embedding is None or self.encoder is None:
            return None
        from models.speaker import cosine

        try:
            emb = self.encoder.embed(Path(clip_path))
        except EngineUnavailable:
            raise
        except EngineError:  # too little speech to tell a voice
            return None
        return round(cosine(emb, reference_embedding), 4)

    def check(self, clip_path: Path, text: str, language: str, reference_embedding: np.ndarray | None = None) -> LineQA:
        """One line heard alone: what was heard, its WER against `text`, the voice's similarity."""
        return self._verdict(clip_path, text, language, self.hear(clip_path, language), reference_embedding)

    def check_many(self, items: Sequence[tuple[Path, str, np.ndarray | None]], language: str) -> list[LineQA]:
        """Many lines of one language (clip, intended text, reference embedding): heard together in windows
        (`hear_many`); a line that fails there is heard again alone and keeps the better of the two hearings
        (a word put in the wrong line at a window's seam must not fail a line)."""
        heard = self.hear_many([p for p, _, _ in items], language)
        out = []
        for (path, text, reference), together in zip(items, heard, strict=True):
            best = together
            if heard_wer(text, together, language) > self.max_wer:
                alone = self.hear(path, language)
                if heard_wer(text, alone, language) < heard_wer(text, together, language):
                    best = alone
            out.append(self._verdict(path, text, language, best, reference))
        return out

    def _verdict(
        self, clip_path: Path, text: str, language: str, heard: str, reference_embedding: np.ndarray | None
    ) -> LineQA:
        wer = heard_wer(text, heard, language)
        passed = wer <= self.max_wer
        return LineQA(
            heard=heard,
            wer=round(wer, 4),
            similarity=self.similarity(clip_path, reference_embedding),
            attempts=1,
            passed=passed,
            reason="" if passed else f"heard {heard!r}: WER {wer:.2f} > {self.max_wer:.2f}",
        )


def campp_similarity(clip_path: Path, reference: np.ndarray | None) -> float | None:
    """CAM++ cosine of the clip's voice to a person's CAM++ reference embedding (the second judge of a cloned
    voice); None without a reference or when the clip is too short to embed."""
    if reference is None:
        return None
    from models.cloning.campp import SAMPLE_RATE as CAMPP_RATE
    from models.cloning.campp import CamppEncoder
    from models.cloning.embedding import cos
    from models.speaker import decode_audio

    try:
        emb = CamppEncoder().embed(decode_audio(Path(clip_path), CAMPP_RATE), CAMPP_RATE)
    except EngineUnavailable:
        raise
    except EngineError:
        return None
    return round(cos(emb, reference), 4)
