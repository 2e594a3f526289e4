"""What the built-in cloning backends share (KokoroCloner): Kokoro to speak a style, Resemblyzer to hear whose
voice it is, Whisper to hear whether its words come through; the style bank cached per machine, the search run,
the finalists' check on unseen sentences, the held-out measurement and the profile writing. The backends
themselves are in models.cloning.backends."""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from models.base import ASR, TTS, EngineError, ModelInfo
from models.cloning.embedding import (
    EMBED_RATE,
    MIN_REFERENCE_S,
    Embedder,
    ReferenceSplit,
    cos,
    enrolment_embedding,
    held_out_similarity,
    reference_speech,
    resample,
    split_reference,
)
from models.cloning.profiles import PROFILE_VERSION, ProfileTTS, profile_digest, write_json
from models.cloning.search import bank_candidates, search_styles, stock_vectors
from models.files import atomic_path
from models.text import heard_wer

BANK_VERSION = 1
MAX_WER = 0.10

# The search's fixed objective: one Spanish sentence of about 3 s (the same for every candidate, so scores
# compare, and for the bank, so the bank is reusable).
SEARCH_SENTENCE = ("es", "Mañana por la mañana vamos a la playa con mis amigos de la escuela.")
# Unseen by the search: finalists are re-scored and re-transcribed on these.
CHECK_SENTENCES: tuple[tuple[str, str], ...] = (
    ("es", "El tren de las ocho llega siempre tarde cuando llueve en la ciudad."),
    ("es", "Mi hermana trabaja en un hospital y le gusta mucho su trabajo."),
)
# Held-out measurement (neither the search nor the finalist choice sees these).
HELD_OUT_SENTENCES: dict[str, tuple[str, ...]] = {
    "es": (
        "Buenas tardes a todos, hoy vamos a hablar de un tema muy importante.",
        "La biblioteca del barrio abre sus puertas a las nueve de la mañana.",
        "Nadie sabía que el viejo puente iba a resistir tantos años.",
    ),
    "en": (
        "Good afternoon everyone, today we are going to talk about an important subject.",
        "The library in our neighbourhood opens its doors at nine in the morning.",
        "Nobody knew that the old bridge would stand for so many years.",
    ),
}


def transcribe_wer(asr: ASR, audio: np.ndarray, rate: int, text: str, language: str) -> float:
    """Whisper's re-transcription of `audio` against the text it should say: the word error rate of
    models.text.heard_wer (numbers and symbols spelled out, compounds joined, as line QA counts it)."""
    with tempfile.TemporaryDirectory(prefix="dubline-clone-") as tmp:
        path = Path(tmp) / "line.wav"
        pcm = (np.clip(resample(audio, rate, EMBED_RATE), -1, 1) * 32767).astype("<i2")
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(EMBED_RATE)
            w.writeframes(pcm.tobytes())
        heard = " ".join(s.text for s in asr.transcribe(path, language=language).segments)
    return heard_wer(text, heard, language)


def check_asr(model_dir: Path | None = None, threads: int | None = None) -> ASR:
    """The intelligibility check's ASR: Whisper base (faster-whisper, greedy), as line QA hears."""
    from models import registry
    from models.asr import FasterWhisperASR

    spec = registry.SPECS["whisper-base-ct2"]
    return FasterWhisperASR(
        registry.require("whisper-base-ct2", model_dir),
        spec.id,
        spec.version,
        spec.main_sha256,
        beam_size=1,
        cpu_threads=threads or 0,
    )


Progress = Callable[[str, float], None] | None


class KokoroCloner:
    """What the built-in backends share: Kokoro, Resemblyzer, Whisper, the style bank, the profile writing."""

    name = "kokoro"

    def __init__(
        self,
        model_dir: Path | None = None,
        *,
        asr: ASR | None = None,
        threads: int | None = None,
        min_reference_s: float = MIN_REFERENCE_S,
        max_wer: float = MAX_WER,
        seed: int = 0,
    ) -> None:
        from models.kokoro import KokoroTTS

        self.model_dir = model_dir
        self.kokoro = KokoroTTS.from_registry(model_dir, threads=threads)
        self.threads = threads
        self._asr = asr
        self.min_reference_s = min_reference_s
        self.max_wer = max_wer
        self.seed = seed
        self._embedder: Embedder | None = None
        self._campp: Any = None
        self.info = ModelInfo(id=f"clone-{self.name}", version=f"v{PROFILE_VERSION}", sha256=self.kokoro.info.sha256)

    # -- helpers
    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = Embedder()
        return self._embedder

    @property
    def campp(self) -> Any:
        """The second judge (models.cloning.campp.CamppEncoder)."""
        if self._campp is None:
            from models.cloning.campp import CamppEncoder

            self._campp = CamppEncoder(threads=self.threads)
        return self._campp

    @property
    def asr(self) -> ASR:
        if self._asr is None:
            self._asr = check_asr(self.model_dir, self.threads)
        return self._asr

    def speak(self, style: np.ndarray, language: str, text: str) -> np.ndarray:
        return self.kokoro.render(text, style, language)

    def embed_style(self, style: np.ndarray, sentence: tuple[str, str] = SEARCH_SENTENCE) -> np.ndarray:
        from models.kokoro import SAMPLE_RATE

        return self.embedder.embed(self.speak(style, sentence[0], sentence[1]), SAMPLE_RATE)

    def bank(self, progress: Progress = None) -> tuple[list[str], np.ndarray, np.ndarray, float]:
        """(labels, styles, embeddings, seconds spent building): cached per machine beside the Kokoro model."""
        from models import registry

        stock = stock_vectors(self.kokoro.styles())
        labels, styles = bank_candidates(stock)
        key = hashlib.sha256(
            json.dumps([BANK_VERSION, SEARCH_SENTENCE, self.kokoro.info.sha256, self.embedder.info.sha256]).encode()
            + styles.astype(np.float32).tobytes()
        ).hexdigest()[:16]
        folder = registry.model_path("kokoro-style-bank", self.model_dir)
        path = folder / f"bank-{key}.npz"
        if path.is_file():
            data = np.load(path)
            return labels, styles, data["embeddings"], 0.0
        t0 = time.monotonic()
        embs = []
        for i, s in enumerate(styles):
            embs.append(self.embed_style(s))
            if progress:
                progress(f"style bank: {i + 1}/{len(styles)} (once per machine)", 0.0)
        emb_arr = np.asarray(embs)
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(path, suffix=".npz") as tmp:
            np.savez(tmp, embeddings=emb_arr, styles=styles)
        return labels, styles, emb_arr, time.monotonic() - t0

    def check(self, style: np.ndarray, target: np.ndarray, with_wer: bool) -> dict[str, float]:
        """A style on the unseen check sentences: similarity to the target, self-consistency, WER."""
        from models.kokoro import SAMPLE_RATE

        audio = [self.speak(style, lang, text) for lang, text in CHECK_SENTENCES]
        embs = [self.embedder.embed(a, SAMPLE_RATE) for a in audio]
        sim = float(np.mean([cos(e, target) for e in embs]))
        self_sim = float(np.mean([cos(embs[i], embs[j]) for i in range(len(embs)) for j in range(i + 1, len(embs))]))
        out = {"similarity": sim, "self_similarity": self_sim, "score": 0.85 * sim + 0.15 * self_sim}
        if with_wer:
            out["wer"] = float(
                np.mean(
                    [
                        transcribe_wer(self.asr, a, SAMPLE_RATE, text, lang)
                        for a, (lang, text) in zip(audio, CHECK_SENTENCES, strict=True)
                    ]
                )
            )
        return out

    def held_out_figures(
        self, render: Callable[[str, str], np.ndarray], clips: list[np.ndarray], language: str = "es"
    ) -> dict[str, float]:
        """Held-out similarity by both judges: {"resemblyzer": .., "campp": ..} (render gives 24 kHz audio)."""
        from models.kokoro import SAMPLE_RATE

        audio = [render(text, language) for text in HELD_OUT_SENTENCES[language]]
        res = held_out_similarity(
            [self.embedder.embed_speech(c) for c in clips], [self.embedder.embed(a, SAMPLE_RATE) for a in audio]
        )
        cam = held_out_similarity(
            [self.campp.embed(c, EMBED_RATE) for c in clips], [self.campp.embed(a, SAMPLE_RATE) for a in audio]
        )
        return {"resemblyzer": res, "campp": cam}

    def _prepare(self, references: list[Path], progress: Progress) -> tuple[ReferenceSplit, np.ndarray]:
        speech = reference_speech(references, self.embedder, self.min_reference_s)
        split = split_reference(speech)
        if progress:
            progress(f"references: {split.total_s:.1f} s of speech ({split.held_out_s:.1f} s held out)", 0.0)
        return split, enrolment_embedding(split, self.embedder)

    def _best_stock(
        self, labels: list[str], styles: np.ndarray, embs: np.ndarray, target: np.ndarray
    ) -> tuple[str, np.ndarray]:
        stock = [i for i, lab in enumerate(labels) if "+" not in lab and "*" not in lab and "random" not in lab]
        i = max(stock, key=lambda k: cos(embs[k], target))
        return labels[i], styles[i]

    def _write(
        self,
        out_dir: Path,
        doc: dict[str, Any],
        style: np.ndarray,
        target: np.ndarray,
        world: dict[str, Any] | None,
        speech: np.ndarray | None = None,
    ) -> dict[str, Any]:
        """profile.json and the voice's files; `speech` (16 kHz enrolment speech) gives the CAM++ reference
        embedding a job's report measures its lines against."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        np.save(out_dir / "style.npy", np.asarray(style, dtype=np.float32))
        np.save(out_dir / "reference_embedding.npy", np.asarray(target, dtype=np.float64))
        if speech is not None:
            np.save(out_dir / "reference_embedding_campp.npy", self.campp.embed(speech, EMBED_RATE))
        if world is not None:
            write_json(out_dir / "world.json", world)
        else:
            (out_dir / "world.json").unlink(missing_ok=True)
        doc = {
            **doc,
            "version": PROFILE_VERSION,
            "kokoro_sha256": self.kokoro.info.sha256,
            "encoder": self.embedder.info.as_dict(),
            "languages": self.kokoro.languages(),
            "files": sorted(p.name for p in out_dir.iterdir() if not p.name.startswith(".")) + ["profile.json"],
            "digest": profile_digest(out_dir),
        }
        doc["files"] = sorted(set(doc["files"]))
        write_json(out_dir / "profile.json", doc)
        return doc

    def load(self, profile_dir: Path, person_id: str) -> TTS:
        if not person_id:
            raise EngineError("a cloned voice needs the person's id (consent applies to it)")
        return ProfileTTS(profile_dir, person_id, self.model_dir, self.threads)

    # -- the search itself, shared by kokoro-search and kokoro-search+world
    def _search(
        self, target: np.ndarray, budget_s: float, progress: Progress, t0: float
    ) -> tuple[np.ndarray, dict[str, Any], tuple[str, np.ndarray, dict[str, float]]]:
        labels, styles, embs, bank_s = self.bank(progress)
        stock_label, stock_style = self._best_stock(labels, styles, embs, target)
        stock_vecs = np.stack([styles[i] for i, lab in enumerate(labels[:5])])
        center, scale = stock_vecs.mean(axis=0), np.maximum(stock_vecs.std(axis=0), 1e-3)
        # The budget covers the enrolment, not the one-time bank; about 45 % of what is left goes to the
        # finalists' check and the held-out measurement (about 12 syntheses and 2 transcriptions).
        remaining = budget_s - (time.monotonic() - t0 - bank_s)
        search_budget = max(0.0, 0.55 * remaining)

        def evaluate(batch: list[np.ndarray]) -> list[np.ndarray]:
            return [self.embed_style(s) for s in batch]

        def report(msg: str, frac: float) -> None:
            if progress:
                progress(msg, 0.05 + 0.8 * frac)

        t_probe = time.monotonic()
        self.embed_style(stock_style)  # warms the models and times one candidate
        res = search_styles(
            evaluate,
            target,
            styles,
            embs,
            budget_s=search_budget,
            scale=scale,
            center=center,
            rng=np.random.default_rng(self.seed),
            progress=report,
            cost_hint_s=time.monotonic() - t_probe,
        )
        # Finalists on unseen sentences; WER for the finalists only, best score first, until one passes.
        finalists = res.finalists(2)
        checked = [(s, self.check(s, target, with_wer=False)) for s in finalists]
        checked.sort(key=lambda sc: -sc[1]["score"])
        chosen: tuple[np.ndarray, dict[str, float]] | None = None
        for s, c in checked:
            c["wer"] = self.check_wer(s)
            if c["wer"] <= self.max_wer:
                chosen = (s, c)
                break
        stock_check = self.check(stock_style, target, with_wer=False)
        if chosen is None or chosen[1]["score"] <= stock_check["score"]:
            stock_check["wer"] = self.check_wer(stock_style)
            if chosen is None or stock_check["wer"] <= self.max_wer:
                chosen = (stock_style, stock_check)
        if progress:
            progress(f"chose a style: similarity {chosen[1]['similarity']:.3f}, WER {chosen[1]['wer']:.2f}", 0.9)
        figures = {
            "bank_size": len(styles),
            "bank_seconds": round(bank_s, 1),
            "search_seconds": round(res.seconds, 1),
            "steps": res.evaluations,
            "generations": res.generations,
            "search_start_similarity": round(res.start_score, 4),
            "search_best_similarity": round(res.best_score, 4),
            "check": {k: round(v, 4) for k, v in chosen[1].items()},
            "history": [[round(t, 1), round(s, 4)] for t, s in res.history],
        }
        return np.asarray(chosen[0], np.float32), figures, (stock_label, stock_style, stock_check)

    def check_wer(self, style: np.ndarray) -> float:
        from models.kokoro import SAMPLE_RATE

        return float(
            np.mean(
                [
                    transcribe_wer(self.asr, self.speak(style, lang, text), SAMPLE_RATE, text, lang)
                    for lang, text in CHECK_SENTENCES
                ]
            )
        )
