"""The "knn-vc" cloning backend: a line spoken by a stock Kokoro voice, then converted to the person by kNN voice
conversion (models/cloning/knnvc.py) against their consented reference speech.

Enrolment (KnnVcCloner.enroll):
1. the person's reference speech is split by time as every backend splits it (enrolment / held-out clips);
2. a matching set is built from the enrolment speech only;
3. the base voice is the stock Kokoro style whose converted speech Resemblyzer places closest to the person (5
   syntheses and conversions); its log-F0 statistics and long-term spectrum are measured on the check
   sentences; the share of the line's own spectrum kept
   (SOURCE_MIX_LADDER, least first: the less kept, the more like the person) rises until the unseen check
   sentences' re-transcription WER is within `max_wer`;
4. the held-out similarity is measured with that matching set by both judges (Resemblyzer and CAM++), so the
   held-out clips were never matched against;
5. the profile's matching set is then rebuilt from all the reference speech (enrolment and held-out: more
   frames to match, so the figures above are conservative) and written with the settings.

Profile files: matchset.npz (features, mels, F0 of every reference frame), knn.json (settings, base style
name, its F0 statistics, the spectrum EQ), style.npy (the base style), the reference embeddings.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from models.base import EngineError, ModelInfo, Prosody
from models.cloning.embedding import EMBED_RATE, cos
from models.cloning.enrolment import CHECK_SENTENCES, SEARCH_SENTENCE, KokoroCloner, transcribe_wer
from models.cloning.knnvc import KnnSettings, KnnVC, MatchSet, resample, spectrum_eq
from models.cloning.profiles import ProfileVoice, profile_digest, read_profile, write_json

KNN_NAME = "knn-vc"
# The settings chosen by the sweep (`python -m benchmarks.eval.cloning_sweep`), the share of the line's own
# spectrum kept rising rung by rung (and 0.3 more where the match is poor) until the words come through.
SOURCE_MIX_LADDER: tuple[float, ...] = (0.2, 0.3, 0.4, 0.5, 0.6, 0.75)
KNN_LADDER: tuple[KnnSettings, ...] = tuple(KnnSettings(source_mix=m) for m in SOURCE_MIX_LADDER)


class KnnVcCloner(KokoroCloner):
    """The "knn-vc" backend (see the module's notes)."""

    name = KNN_NAME

    def __init__(self, model_dir: Path | None = None, *, ladder: tuple[KnnSettings, ...] = KNN_LADDER, **kw: Any):
        super().__init__(model_dir, **kw)
        self.ladder = ladder
        self._knn: dict[tuple[int, ...], KnnVC] = {}

    def knn(self, settings: KnnSettings) -> KnnVC:
        vc = self._knn.get(settings.blocks)
        if vc is None:
            vc = self._knn[settings.blocks] = KnnVC(settings, model_dir=self.model_dir, threads=self.threads)
        vc.settings = settings
        return vc

    def base_style(self, target: np.ndarray, matchset: MatchSet) -> tuple[str, np.ndarray, float]:
        """The stock style whose speech, converted, Resemblyzer places closest to the person: each style speaks
        the search sentence once and is converted at the middle rung of the ladder (the kept share of its own
        spectrum carries its vocal tract, so a voice close before conversion is not always close after)."""
        from models.cloning.world import f0_track, log_f0_stats
        from models.kokoro import SAMPLE_RATE

        lang, text = SEARCH_SENTENCE
        vc = self.knn(self.ladder[len(self.ladder) // 2])
        best: tuple[str, np.ndarray, float] | None = None
        for label, style in sorted(self.kokoro.styles().items()):
            audio = self.speak(style, lang, text)
            eq = spectrum_eq(matchset, [vc.analyse(resample(audio, SAMPLE_RATE, EMBED_RATE), EMBED_RATE)])
            f0 = log_f0_stats([f0_track(audio, SAMPLE_RATE)])
            out = vc.convert(audio, SAMPLE_RATE, matchset, f0, eq=eq)
            sim = cos(self.embedder.embed(out.audio, 22050), target)
            if best is None or sim > best[2]:
                best = (label, style, sim)
        assert best is not None
        return best

    def enroll(
        self,
        references: list[Path],
        out_dir: Path,
        language: str,
        *,
        budget_s: float,
        progress: Callable[[str, float], None] | None = None,
    ) -> dict[str, Any]:
        from models.cloning.world import f0_track, log_f0_stats
        from models.kokoro import SAMPLE_RATE

        t0 = time.monotonic()
        split, target = self._prepare(references, progress)
        if progress:
            progress("building the matching set", 0.05)
        first = self.knn(self.ladder[0])
        held_set = first.matchset([(split.enrolment, EMBED_RATE)])
        if progress:
            progress("choosing the base voice", 0.1)
        label, style, stock_sim = self.base_style(target, held_set)
        check_audio = [(text, lang, self.speak(style, lang, text)) for lang, text in CHECK_SENTENCES]
        base_f0 = log_f0_stats([f0_track(a, SAMPLE_RATE) for _t, _l, a in check_audio])
        if progress:
            progress(f"base voice {label} (converted: similarity {stock_sim:.3f})", 0.15)
        eq = spectrum_eq(
            held_set, [first.analyse(resample(a, SAMPLE_RATE, EMBED_RATE), EMBED_RATE) for *_x, a in check_audio]
        )
        chosen, tried = self._least_share(check_audio, held_set, base_f0, eq, t0 + 0.7 * budget_s, progress)
        vc = self.knn(chosen)

        def render(text: str, lang: str) -> np.ndarray:
            out = vc.convert(self.speak(style, lang, text), SAMPLE_RATE, held_set, base_f0, eq=eq)
            return resample(out.audio, 22050, SAMPLE_RATE)

        if progress:
            progress("held-out similarity", 0.8)
        held = self.held_out_figures(render, split.held_out)
        stock = self.held_out_figures(lambda text, lang: self.speak(style, lang, text), split.held_out)
        if progress:
            progress("the profile's matching set from all the reference speech", 0.95)
        full = MatchSet.join([held_set, *[vc.analyse(c, EMBED_RATE) for c in split.held_out]])
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "matchset.npz").write_bytes(full.to_bytes())
        write_json(
            out_dir / "knn.json",
            {
                "settings": chosen.as_dict(),
                "base_style": label,
                "base_log_f0": list(base_f0),
                "eq": [round(float(x), 4) for x in eq],
                "matchset_seconds": round(full.seconds, 1),
            },
        )
        doc = {
            "backend": self.name,
            "reference_language": language,
            "base_styles": [label],
            "best_stock": label,
            "base_converted_similarity": round(stock_sim, 4),
            "best_stock_held_out_similarity": round(stock["resemblyzer"], 4),
            "best_stock_held_out_similarity_campp": round(stock["campp"], 4),
            "held_out_similarity": round(held["resemblyzer"], 4),
            "held_out_similarity_campp": round(held["campp"], 4),
            "wer": next(t["wer"] for t in tried if t["source_mix"] == chosen.source_mix),
            "knn_tried": tried,
            "knn": chosen.as_dict(),
            "vocoder": self.knn(chosen).vocoder.version,
            "matchset_seconds": round(full.seconds, 1),
            "seconds": round(time.monotonic() - t0, 1),
            "steps": len(tried),
            "reference_seconds": round(split.total_s, 1),
            "enrolment_seconds": round(split.enrolment_s, 1),
            "held_out_seconds": round(split.held_out_s, 1),
        }
        if progress:
            progress(f"held-out similarity {held['resemblyzer']:.3f}, CAM++ {held['campp']:.3f}", 1.0)
        return self._write(out_dir, doc, style, target, None, split.enrolment)

    def _least_share(
        self,
        check_audio: list[tuple[str, str, np.ndarray]],
        matchset: MatchSet,
        base_f0: tuple[float, float],
        eq: np.ndarray,
        deadline: float,
        progress: Callable[[str, float], None] | None,
    ) -> tuple[KnnSettings, list[dict[str, Any]]]:
        """The rung of the ladder with the least own-spectrum share whose check sentences are heard within
        max_wer, found by bisection (WER falls as the share rises). Out of time or with no rung passing: the
        most intelligible rung tried, or the last rung (the most kept) when the time ran out first."""
        from models.kokoro import SAMPLE_RATE

        tried: list[dict[str, Any]] = []
        wer_of: dict[int, float] = {}

        def check(rung: int) -> float:
            vc = self.knn(self.ladder[rung])
            wers = [
                transcribe_wer(self.asr, vc.convert(a, SAMPLE_RATE, matchset, base_f0, eq=eq).audio, 22050, t, lang)
                for t, lang, a in check_audio
            ]
            wer_of[rung] = round(float(np.mean(wers)), 4)
            tried.append({"source_mix": self.ladder[rung].source_mix, "wer": wer_of[rung]})
            if progress:
                share = self.ladder[rung].source_mix
                progress(f"own-spectrum share {share:.2f}: WER {wer_of[rung]:.2f}", min(0.7, 0.2 + 0.1 * len(tried)))
            return wer_of[rung]

        lo, hi, best = 0, len(self.ladder) - 1, None
        while lo <= hi:
            if wer_of and time.monotonic() > deadline:
                break
            mid = (lo + hi) // 2
            if check(mid) <= self.max_wer:
                best, hi = mid, mid - 1
            else:
                lo = mid + 1
        if best is None:
            ran_out = lo <= hi
            best = len(self.ladder) - 1 if ran_out else min(wer_of, key=lambda k: (wer_of[k], -k))
            if best not in wer_of:
                check(best)
        return self.ladder[best], tried

    def load(self, profile_dir: Path, person_id: str) -> KnnVcTTS:
        if not person_id:
            raise EngineError("a cloned voice needs the person's id (consent applies to it)")
        return KnnVcTTS(profile_dir, person_id, self.model_dir, self.threads)


class KnnVcTTS(ProfileVoice):
    """A TTS speaking with a knn-vc profile: the base Kokoro style, converted to the person.

    Voices: Voice(engine="clone-knn-vc", id="profile:<sha12>", language, person_id)."""

    name = "clone-knn-vc"

    def __init__(self, profile_dir: Path, person_id: str, model_dir: Path | None = None, threads: int | None = None):
        from models.kokoro import KokoroTTS

        self.profile_dir = Path(profile_dir)
        self.person_id = person_id
        self.profile = read_profile(self.profile_dir)
        missing = [n for n in ("matchset.npz", "knn.json", "style.npy") if not (self.profile_dir / n).is_file()]
        if missing:
            raise EngineError(f"{self.profile_dir}: {', '.join(missing)} missing; enrol the voice again")
        knn = json.loads((self.profile_dir / "knn.json").read_text())
        self.settings = KnnSettings.from_dict(knn["settings"])
        self.base_f0 = (float(knn["base_log_f0"][0]), float(knn["base_log_f0"][1]))
        self.eq = np.asarray(knn.get("eq") or np.zeros(80), np.float32)
        self.matchset = MatchSet.from_bytes((self.profile_dir / "matchset.npz").read_bytes())
        self.style = np.load(self.profile_dir / "style.npy").astype(np.float32)
        self.kokoro = KokoroTTS.from_registry(model_dir, threads=threads)
        self.vc = KnnVC(self.settings, model_dir=model_dir, threads=threads)
        self.digest = profile_digest(self.profile_dir)
        self.info = ModelInfo(
            id=f"{self.name}:{self.profile.get('backend', '?')}",
            version=(
                f"profile v{self.profile.get('version', '?')} {self.digest[:12]}; {self.kokoro.info.version}; "
                f"{self.vc.vocoder.version}"
            ),
            sha256=self.kokoro.info.sha256,
        )

    def render(self, text: str, language: str, prosody: Prosody = Prosody()) -> np.ndarray:
        """Float32 samples (24 kHz) of the person's voice: pitch and range move the F0 the conversion aims at."""
        from models.kokoro import SAMPLE_RATE

        audio = self.kokoro.render(text, self.style, language, speed=prosody.rate)
        out = self.vc.convert(
            audio, SAMPLE_RATE, self.matchset, self.base_f0, prosody.pitch, prosody.pitch_range, self.eq
        )
        converted = out.audio
        if abs(prosody.pitch - 1.0) > 1e-3:
            converted = follow_pitch(converted, 22050, self.matchset.f0_stats()[0] + float(np.log(prosody.pitch)))
        return resample(converted, 22050, SAMPLE_RATE) * np.float32(prosody.volume)


PITCH_TOLERANCE = float(np.log(1.05))  # a converted line's mean F0 this far from the pitch asked for is moved


def follow_pitch(audio: np.ndarray, rate: int, target_log_f0: float) -> np.ndarray:
    """The converted line with its mean log F0 moved onto `target_log_f0` (WORLD) when it lies more than
    PITCH_TOLERANCE away. The matching takes its frames from the person's reference: with a small share of
    the line's own spectrum (the ladder's lower rungs) the F0 the delivery asked for (the source shifted before
    matching) barely comes through, and a delivery's pitch must survive the conversion."""
    from models.cloning.world import f0_track, shift_pitch

    f0 = f0_track(audio, rate)
    if f0.size < 10:  # too little voiced speech to measure
        return audio
    gap = target_log_f0 - float(np.mean(np.log(f0)))
    if abs(gap) <= PITCH_TOLERANCE:
        return audio
    return shift_pitch(audio, rate, pitch=float(np.exp(gap))).astype(np.float32)
