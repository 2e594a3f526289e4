"""The voice cloning backends by name (see models.cloning): the built-in ones and an operator's "module:Class"."""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from models.base import EngineError, EngineUnavailable, ModelInfo, VoiceCloner
from models.cloning.embedding import EMBED_RATE, cos
from models.cloning.enrolment import CHECK_SENTENCES, MAX_WER, SEARCH_SENTENCE, KokoroCloner, transcribe_wer
from models.cloning.profiles import read_profile, write_json


class KokoroSearchCloner(KokoroCloner):
    """The "kokoro-search" backend: the Kokoro style closest to the person (see models.cloning)."""

    name = "kokoro-search"

    def enroll(
        self,
        references: list[Path],
        out_dir: Path,
        language: str,
        *,
        budget_s: float,
        progress: Callable[[str, float], None] | None = None,
    ) -> dict[str, Any]:
        t0 = time.monotonic()
        split, target = self._prepare(references, progress)
        style, figures, (stock_label, stock_style, _sc) = self._search(target, budget_s, progress, t0)
        judged = self.held_out_figures(lambda text, lang: self.speak(style, lang, text), split.held_out)
        stock_judged = self.held_out_figures(lambda text, lang: self.speak(stock_style, lang, text), split.held_out)
        held, stock_held = judged["resemblyzer"], stock_judged["resemblyzer"]
        doc = {
            "backend": self.name,
            "reference_language": language,
            "base_styles": [stock_label],
            "best_stock": stock_label,
            "best_stock_held_out_similarity": round(stock_held, 4),
            "held_out_similarity": round(held, 4),
            "held_out_similarity_campp": round(judged["campp"], 4),
            "best_stock_held_out_similarity_campp": round(stock_judged["campp"], 4),
            "wer": figures["check"]["wer"],
            "seconds": round(time.monotonic() - t0, 1),
            "reference_seconds": round(split.total_s, 1),
            "enrolment_seconds": round(split.enrolment_s, 1),
            "held_out_seconds": round(split.held_out_s, 1),
            **figures,
        }
        if progress:
            progress(f"held-out similarity {held:.3f} (best stock voice {stock_held:.3f})", 1.0)
        return self._write(out_dir, doc, style, target, None, split.enrolment)


class WorldMatchCloner(KokoroCloner):
    """The "world-match" backend: WORLD matching of the stock Kokoro style closest to the person; with search=True
    ("kokoro-search+world") of the searched style instead. The search then gets 60 % of the budget: the WORLD
    fit, its intelligibility fallbacks and the held-out measurement took 60-120 s on 2 loaded cores (a fixed
    40 s allowance overran a 240 s budget by 82 s)."""

    name = "world-match"

    def __init__(self, model_dir: Path | None = None, *, search: bool = False, **kw: Any) -> None:
        self.search = search
        if search:
            self.name = "kokoro-search+world"
        super().__init__(model_dir, **kw)

    def enroll(
        self,
        references: list[Path],
        out_dir: Path,
        language: str,
        *,
        budget_s: float,
        progress: Callable[[str, float], None] | None = None,
    ) -> dict[str, Any]:
        from models.cloning.world import WorldParams, convert, fit
        from models.kokoro import SAMPLE_RATE

        t0 = time.monotonic()
        split, target = self._prepare(references, progress)
        figures: dict[str, Any] = {}
        if self.search:
            style, figures, (stock_label, stock_style, _sc) = self._search(target, 0.6 * budget_s, progress, t0)
        else:
            labels, styles, embs, bank_s = self.bank(progress)
            stock_label, stock_style = self._best_stock(labels, styles, embs, target)
            style = np.asarray(stock_style, np.float32)
            figures["bank_seconds"] = round(bank_s, 1)
        if progress:
            progress("WORLD matching: F0, formant warp, spectrum EQ", 0.9)
        base_audio = [self.speak(style, lang, text) for lang, text in (SEARCH_SENTENCE, CHECK_SENTENCES[0])]
        ref_clips = [split.enrolment]

        def score(clips: list[np.ndarray]) -> float:
            return float(np.mean([cos(self.embedder.embed(c, SAMPLE_RATE), target) for c in clips]))

        params, scores = fit(base_audio, SAMPLE_RATE, ref_clips, EMBED_RATE, score)

        def render_with(p: WorldParams) -> Callable[[str, str], np.ndarray]:
            return lambda text, lang: convert(self.speak(style, lang, text), SAMPLE_RATE, p)

        # Milder settings while the matched voice is hard to understand: without the EQ, then without the warp.
        mild = [params, WorldParams(params.src_log_f0, params.dst_log_f0, params.alpha)]
        mild.append(WorldParams(params.src_log_f0, params.dst_log_f0, 1.0))
        tried: list[dict[str, Any]] = []
        for p in mild:
            if tried and p.as_dict() == tried[-1]["params"]:
                continue
            r = render_with(p)
            world_wer = float(
                np.mean(
                    [transcribe_wer(self.asr, r(text, lang), SAMPLE_RATE, text, lang) for lang, text in CHECK_SENTENCES]
                )
            )
            tried.append({"params": p.as_dict(), "wer": world_wer})
            params = p
            if world_wer <= self.max_wer:
                break
        render = render_with(params)
        tmp_profile = {"world": params.as_dict()}
        judged = self.held_out_figures(render, split.held_out)
        stock_judged = self.held_out_figures(lambda text, lang: self.speak(stock_style, lang, text), split.held_out)
        held, stock_held = judged["resemblyzer"], stock_judged["resemblyzer"]
        doc = {
            "backend": self.name,
            "reference_language": language,
            "base_styles": [stock_label] if not self.search else ["searched"],
            "best_stock": stock_label,
            "best_stock_held_out_similarity": round(stock_held, 4),
            "held_out_similarity": round(held, 4),
            "held_out_similarity_campp": round(judged["campp"], 4),
            "best_stock_held_out_similarity_campp": round(stock_judged["campp"], 4),
            "wer": round(world_wer, 4),
            "seconds": round(time.monotonic() - t0, 1),
            "steps": figures.get("steps", 0) + len(scores),
            "world_scores": {k: round(v, 4) for k, v in scores.items()},
            "world_wer_tried": [round(t["wer"], 3) for t in tried],  # full match, without EQ, without warp
            "reference_seconds": round(split.total_s, 1),
            "enrolment_seconds": round(split.enrolment_s, 1),
            "held_out_seconds": round(split.held_out_s, 1),
            **{k: v for k, v in figures.items() if k not in ("steps",)},
        }
        if progress:
            progress(f"held-out similarity {held:.3f} (best stock voice {stock_held:.3f})", 1.0)
        return self._write(out_dir, doc, style, target, tmp_profile["world"], split.enrolment)


class AutoCloner:
    """The "auto" backend: enrols the person with each candidate backend (AUTO_CANDIDATES, or `candidates`), each
    within an equal share of the budget, and keeps the one with the best held-out Resemblyzer similarity among
    those whose WER is within the intelligibility bound (the most intelligible when none is). The profile is the
    chosen backend's (its `backend` names it, so it loads with that backend); `candidates` in profile.json holds
    every candidate's figures by both judges."""

    name = "auto"

    def __init__(self, model_dir: Path | None = None, *, candidates: tuple[str, ...] | None = None, **options: Any):
        self.model_dir = model_dir
        self.options = options
        self.candidates = tuple(candidates or AUTO_CANDIDATES)
        self.max_wer = float(options.get("max_wer", MAX_WER))
        self._cloners = {c: make_cloner(c, model_dir, **options) for c in self.candidates}
        first = self._cloners[self.candidates[0]]
        self.info = ModelInfo(
            id="clone-auto",
            version="auto: " + ", ".join(f"{c} {k.info.version}" for c, k in self._cloners.items()),
            sha256=first.info.sha256,
        )

    def enroll(
        self,
        references: list[Path],
        out_dir: Path,
        language: str,
        *,
        budget_s: float,
        progress: Callable[[str, float], None] | None = None,
    ) -> dict[str, Any]:
        import shutil
        import tempfile

        results: list[tuple[str, dict[str, Any], Path]] = []
        n = len(self.candidates)
        with tempfile.TemporaryDirectory(prefix="dubline-clone-auto-") as tmp:
            for i, name in enumerate(self.candidates):

                def report(msg: str, frac: float, i: int = i, name: str = name) -> None:
                    if progress:
                        progress(f"{name}: {msg}", (i + frac) / n)

                folder = Path(tmp) / str(i)
                doc = self._cloners[name].enroll(references, folder, language, budget_s=budget_s / n, progress=report)
                results.append((name, doc, folder))
            ok = [r for r in results if float(r[1].get("wer", 1.0)) <= self.max_wer]
            if ok:
                name, doc, folder = max(ok, key=lambda r: float(r[1].get("held_out_similarity", -1.0)))
                why = f"best held-out similarity with WER <= {self.max_wer:.2f}"
            else:
                name, doc, folder = min(results, key=lambda r: float(r[1].get("wer", 1.0)))
                why = f"no candidate within WER {self.max_wer:.2f}: the most intelligible"
            out_dir = Path(out_dir)
            out_dir.mkdir(parents=True, exist_ok=True)
            for f in folder.iterdir():
                if f.is_file() and f.name != "profile.json":
                    shutil.copy2(f, out_dir / f.name)
        keys = ("held_out_similarity", "held_out_similarity_campp", "wer", "seconds")
        doc = {
            **doc,
            "chosen_by": f"auto ({why})",
            "candidates": [{"backend": c, **{k: d.get(k) for k in keys}} for c, d, _f in results],
            "seconds": round(sum(float(d.get("seconds", 0.0)) for _c, d, _f in results), 1),
        }
        write_json(out_dir / "profile.json", doc)
        if progress:
            progress(f"chose {name}: held-out similarity {doc.get('held_out_similarity')}", 1.0)
        return doc

    def load(self, profile_dir: Path, person_id: str) -> Any:
        backend = str(read_profile(profile_dir).get("backend", ""))
        if backend not in self._cloners:
            raise EngineError(f"{profile_dir}: a profile of backend {backend!r}, not one of {self.candidates}")
        return self._cloners[backend].load(profile_dir, person_id)


BACKENDS: tuple[str, ...] = ("auto", "knn-vc", "kokoro-search", "world-match", "kokoro-search+world")
AUTO_CANDIDATES: tuple[str, ...] = ("knn-vc", "world-match")


def make_cloner(name: str, model_dir: Path | None = None, **options: Any) -> VoiceCloner:
    """The cloning backend called `name`: a built-in one (BACKENDS), or "package.module:Class", an operator's class
    implementing models.base.VoiceCloner, constructed as Class(model_dir=model_dir, **options).

    "auto" enrols with each of AUTO_CANDIDATES (option candidates=) and keeps the best within the WER bound.
    Options of the built-ins: asr (an ASR for the intelligibility check; default Whisper base), threads,
    min_reference_s, max_wer, seed."""
    if name == "auto":
        return AutoCloner(model_dir, **options)
    if name == "knn-vc":
        from models.cloning.knn_backend import KnnVcCloner

        return KnnVcCloner(model_dir, **options)
    if name == "kokoro-search":
        return KokoroSearchCloner(model_dir, **options)
    if name == "world-match":
        return WorldMatchCloner(model_dir, **options)
    if name == "kokoro-search+world":
        return WorldMatchCloner(model_dir, search=True, **options)
    if ":" in name:
        module_name, _, cls_name = name.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as e:
            raise EngineUnavailable(f"voice cloning backend {name!r}: cannot import {module_name} ({e})") from e
        cls = getattr(module, cls_name, None)
        if cls is None:
            raise EngineUnavailable(f"voice cloning backend {name!r}: {module_name} has no {cls_name}")
        cloner = cls(model_dir=model_dir, **options)
        if not isinstance(cloner, VoiceCloner):
            raise EngineUnavailable(
                f"voice cloning backend {name!r} does not implement VoiceCloner (name, info, enroll, load)"
            )
        return cloner
    raise EngineUnavailable(
        f"unknown voice cloning backend {name!r}; choose one of {', '.join(BACKENDS)} or 'package.module:Class'"
    )
