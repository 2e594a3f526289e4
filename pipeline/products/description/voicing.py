"""voice_descriptions: every description spoken by the describer and placed in the programme's gaps.

1. The describer (pipeline.stages.voice_choice): a stock voice for the language, or a person's cloned voice
   under a consent for `audio_description`, checked before every line is spoken (a revocation mid-run stops
   the lines not yet spoken).
2. Each cue is spoken at its natural rate (clips content-addressed: a re-run speaks only what changed).
3. Placement (placement.place, pure): at its time or in the first gap after it that fits within the
   look-ahead; else (a) faster, within the ladder's rate bound; (b) a shorter text within a character budget
   (pipeline.text.translation.condense; both texts kept for the report); (c) extended description: the
   picture holds at the gap's end for as long as the line needs (rendered separately, standard output keeps
   its own placement); (d) an overrun, flagged for review. Nothing is spoken over dialogue unflagged.
4. Line QA: every final clip heard again (Whisper); one heard wrong is spoken again, spelled out, at the same
   rate, and the best kept.
5. The clips laid on the programme's timeline (and on the extended one) as 48 kHz mono stems.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from pathlib import Path
from typing import Any

from models.base import Prosody
from pipeline.core.config import Settings
from pipeline.core.stagerun import StageRun, run_stage
from pipeline.products.description.contracts import (
    Described,
    DescribeRequest,
    DescriberInfo,
    DialogueMapped,
    ScriptRead,
)
from pipeline.products.description.cues import Cue, PlacedCue
from pipeline.products.description.layout import Spoken, lay_out
from pipeline.products.description.placement import Ask, Decision, Limits, place
from pipeline.stages.contracts import Ingested, Transcribed
from pipeline.stages.voice_choice import ChosenVoice, choose_voice, reference_of
from pipeline.voice.consent import record_voice_output
from pipeline.voice.speak import synth_clip

USE = "audio_description"
VOICING_VERSION = 1  # bump when placement or rendering changes what the stems sound like


def describer_prosody(style: str) -> Prosody:
    """The engine's controls of a named delivery style (neutral when none; unknown names refused)."""
    if not style:
        return Prosody()
    from pipeline.speech.prosody import style_prosody

    return style_prosody(style)


def limits_for(settings: Settings, request: DescribeRequest, extended: bool = False) -> Limits:
    return Limits(max_rate=settings.fit_max_rate, lookahead_s=request.lookahead_s, extended=extended)


def voice_descriptions(
    settings: Settings,
    request: DescribeRequest,
    ingested: Ingested,
    read: ScriptRead,
    transcribed: Transcribed,
    mapped: DialogueMapped,
    today: str | None = None,
) -> Described:
    from pipeline.products.description.listen import load_map
    from pipeline.products.description.read import load_cues

    day = date.fromisoformat(today) if today else date.today()
    lang = read.language or transcribed.language
    describer = choose_voice(settings, request.voice, lang, day, read.filename, USE)
    prosody = describer_prosody(request.style)
    material: dict[str, Any] = {
        "script": read.key,
        "map": mapped.key,
        "language": lang,
        "voice": describer.describe(),
        "style": request.style,
        "limits": dataclasses.asdict(limits_for(settings, request)),
        "extended": request.extended,
        "qa": {"on": settings.qa, "max_wer": settings.qa_max_wer, "retries": settings.qa_retries},
        "v": VOICING_VERSION,
    }

    def work(run: StageRun) -> Described:
        script = load_cues(settings, read)
        spans, gaps = load_map(settings, mapped)
        voicing = _Voicing(settings, run, describer, lang, day, prosody)
        return voicing.voice_all(script.cues, spans, gaps, ingested.duration, request)

    return run_stage(settings, "voice_descriptions", material, work, Described, label=lang)


@dataclasses.dataclass
class _Voicing:
    settings: Settings
    run: StageRun
    describer: ChosenVoice
    lang: str
    day: date
    prosody: Prosody
    made: dict[tuple[str, float], Spoken] = dataclasses.field(default_factory=dict)

    def speak(self, text: str, rate: float, said: str | None = None) -> Spoken:
        """`text` in the describer's voice at `rate` x the style's rate (the consent checked first)."""
        key = (said or text, round(rate, 4))
        if key in self.made:
            return self.made[key]
        d = self.describer
        d.gate(self.lang, self.day)  # a revocation mid-run stops the lines not yet spoken
        p = dataclasses.replace(self.prosody, rate=round(self.prosody.rate * rate, 4))
        uri, seconds, local = synth_clip(self.run.store, d.tts, d.voice, said or text, p, self.run.scratch)
        record_voice_output(self.settings, d.voice, d.consent_id, uri, d.tts.info.as_dict(), USE, self.lang)
        spoken = Spoken(text=text, uri=uri, seconds=seconds, local=local, rate=rate)
        self.made[key] = spoken
        return spoken

    def voice_all(
        self,
        cues: list[Cue],
        spans: list[tuple[float, float]],
        gaps: list[tuple[float, float]],
        duration: float,
        request: DescribeRequest,
    ) -> Described:
        settings, run = self.settings, self.run
        texts = {c.id: c.text for c in cues}
        condensed: dict[str, Any] = {}
        for n, c in enumerate(cues):
            self.speak(c.text, 1.0)
            run.step(n + 1, len(cues), f"description {c.id}")
        asks = [self._ask(c, texts[c.id], shortened=False) for c in cues]
        std = place(asks, gaps, limits_for(settings, request))
        # rung b: a shorter text for each line that fits no gap even faster; then everything is placed again
        asks = self._shorten(cues, std, asks, texts, condensed)
        std = place(asks, gaps, limits_for(settings, request))
        ext = place(asks, gaps, limits_for(settings, request, extended=True)) if request.extended else None
        finals = {d.id: self.speak(texts[d.id], d.rate) for d in std}
        ext_finals = {d.id: self.speak(texts[d.id], d.rate) for d in ext} if ext is not None else {}
        qa = self._check([*finals.values(), *ext_finals.values()])
        finals = {k: self._best(v) for k, v in finals.items()}
        ext_finals = {k: self._best(v) for k, v in ext_finals.items()}
        by_id = {c.id: c for c in cues}
        parts = (by_id, texts, condensed, spans, duration, run.scratch)
        std_layout = lay_out(std, finals, *parts, name="description.wav")
        out: dict[str, Any] = {}
        if ext is not None:
            ext_layout = lay_out(ext, ext_finals, *parts, name="description.extended.wav", extended=True)
            out = {
                "holds": ext_layout.holds,
                "extended_track_uri": run.put(ext_layout.path.name, ext_layout.path),
                "extended_spans": ext_layout.spans,
                "extended_placed_uri": run.put_bytes("placed.extended.json", _json(ext_layout.placed)),
            }
        placed = std_layout.placed
        figures = _figures(placed)
        return Described(
            language=self.lang,
            track_uri=run.put(std_layout.path.name, std_layout.path),
            spans=std_layout.spans,
            placed_uri=run.put_bytes("placed.json", _json(placed)),
            cues=len(cues),
            voice=DescriberInfo(**self.describer.describe(), style=request.style),
            consents=[self.describer.consent_id] if self.describer.consent_id is not None else [],
            qa=qa,
            extended=request.extended,
            **figures,
            **out,
        )

    def _ask(self, cue: Cue, text: str, shortened: bool) -> Ask:
        spoken = self.speak(text, 1.0)
        return Ask(id=cue.id, asked=cue.start, natural_s=spoken.seconds, chars=len(text), shortened=shortened)

    def _shorten(
        self,
        cues: list[Cue],
        decisions: list[Decision],
        asks: list[Ask],
        texts: dict[str, str],
        condensed: dict[str, Any],
    ) -> list[Ask]:
        from pipeline.text.translation.condense import condense

        want = {d.id: d.budget_chars for d in decisions if "shorten" in d.steps and d.budget_chars}
        if not want:
            return asks
        by_id = {c.id: c for c in cues}
        out = []
        for a in asks:
            budget = want.get(a.id)
            if budget is None:
                out.append(a)
                continue
            got = condense(self.settings, texts[a.id], self.lang, int(budget))
            condensed[a.id] = got.as_dict()
            texts[a.id] = got.text
            out.append(self._ask(by_id[a.id], got.text, shortened=True))
        return out

    def _check(self, clips: list[Spoken]) -> dict[str, Any] | None:
        """Every final clip heard again; one heard wrong spoken again (spelled out, same rate), best kept."""
        if not self.settings.qa or not clips:
            return None
        from pipeline.core.engines import get_asr
        from pipeline.speech import hearing
        from pipeline.speech import qa as line_qa

        unique = list({(c.text, round(c.rate, 4)): c for c in clips}.values())
        checker = hearing.LineChecker.from_settings(self.settings)
        reference = reference_of(self.settings, self.describer, self.lang)
        verdicts = checker.check_many([(c.local, c.text, reference) for c in unique], self.lang)
        retried = 0
        for c, verdict in zip(unique, verdicts, strict=True):
            c.qa = verdict
            if not verdict.passed and self.settings.qa_retries > 0:
                retried += int(self._retry(c, checker, reference))
        return {
            **line_qa.summarize([c.qa for c in unique if c.qa is not None]),
            "retried": retried,
            "asr": get_asr(self.settings).info.as_dict(),
        }

    def _retry(self, c: Spoken, checker: Any, reference: Any) -> bool:
        from models.text import normalise_for_speech
        from pipeline.speech import qa

        made: dict[Path, Spoken] = {c.local: c}

        def make(attempt: int) -> tuple[Path, str]:
            said = normalise_for_speech(c.text, self.lang) if attempt > 0 else c.text
            s = self.speak(c.text, c.rate, said=said)
            made[s.local] = s
            return s.local, f"spelled out (rate {c.rate:.2f})"

        assert c.qa is not None
        chosen, verdict = qa.synthesize_checked(
            make, c.text, self.lang, checker, self.settings, reference, first=(c.local, c.qa)
        )
        c.qa = verdict
        if chosen != c.local:
            c.better = made[chosen]
            return True
        return False

    @staticmethod
    def _best(s: Spoken) -> Spoken:
        if s.better is None:
            return s
        return dataclasses.replace(s.better, qa=s.qa)


def _figures(placed: list[PlacedCue]) -> dict[str, Any]:
    return {
        "placed_within_1s": sum(abs(p.start - p.asked) <= 1.0 for p in placed),
        "shortened": sum(p.shortened for p in placed),
        "rated": sum(p.rate > 1.001 for p in placed),
        "overruns": sum(p.overrun_s > 0 for p in placed),
        "overrun_s": round(sum(p.overrun_s for p in placed), 3),
        "delayed": sum("delay" in p.steps for p in placed),
    }


def _json(placed: list[PlacedCue]) -> bytes:
    return json.dumps([p.model_dump(mode="json") for p in placed], indent=1).encode()


def load_placed(settings: Settings, uri: str) -> list[PlacedCue]:
    from pipeline.core.stagerun import open_settings_store
    from pipeline.core.storage import get_json, key_of

    store = open_settings_store(settings)
    return [PlacedCue.model_validate(p) for p in get_json(store, key_of(store, uri))]
