"""Descriptions spoken and placed, shared by the products that describe a picture (audio description; a dub's
described track): the describer speaks each cue (its consent checked before every line), placement
(pipeline.text.descriptions.placement) puts it in the dialogue's gaps, a line that fits no gap even faster is
shortened (pipeline.text.translation.condense) and placed again, every final clip is heard again (line QA:
one heard with more than DESCRIPTION_MAX_WER is spoken again, slower where its room allows, then spelled out,
the best kept), and the clips are laid on the programme's timeline (layout) as a 48 kHz mono stem, with each
cue's record as placed.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from pathlib import Path
from typing import Any

from models.base import Prosody
from pipeline.core.config import Settings
from pipeline.core.stagerun import StageRun
from pipeline.stages.describing.layout import Layout, Spoken, lay_out
from pipeline.stages.voice_choice import ChosenVoice, reference_of
from pipeline.text.descriptions.cues import Cue, PlacedCue
from pipeline.text.descriptions.placement import Ask, Decision, Limits, place
from pipeline.voice.consent import record_voice_output
from pipeline.voice.speak import synth_clip

USE = "audio_description"  # the consent use of a person's voice describing a picture
# Descriptions are short and every word carries the picture: a line heard with more than this word error rate
# (one word in ten; one wrong word of a five-word line) is spoken again, with the variants dubbing's QA uses
# (slower where the line's room allows, then spelled out), the best kept. Stricter than DUBLINE_QA_MAX_WER
# when that is higher.
DESCRIPTION_MAX_WER = 0.1
SLACK_S = 0.02


def describer_prosody(style: str) -> Prosody:
    """The engine's controls of a named delivery style (neutral when none; unknown names refused)."""
    if not style:
        return Prosody()
    from pipeline.speech.prosody import style_prosody

    return style_prosody(style)


@dataclasses.dataclass
class Voiced:
    """The descriptions as spoken and laid out: standard description, and extended description on request."""

    std: Layout
    extended: Layout | None
    qa: dict[str, Any] | None
    figures: dict[str, Any]


@dataclasses.dataclass
class Describer:
    """Speaks and places one job's descriptions in one language: `describer` the voice (its consent checked
    before every line), `limits` the placement's bounds (standard description; extended adds holds)."""

    settings: Settings
    run: StageRun
    describer: ChosenVoice
    lang: str
    day: date
    prosody: Prosody
    limits: Limits
    made: dict[tuple[str, float], Spoken] = dataclasses.field(default_factory=dict)
    rooms: dict[tuple[str, float], float] = dataclasses.field(default_factory=dict)  # the most a clip may last

    def speak(self, text: str, rate: float, said: str | None = None) -> Spoken:
        """`text` in the describer's voice at `rate` x the style's rate (the consent checked first)."""
        key = (said or text, round(rate, 4))
        if key in self.made:
            return self.made[key]
        d = self.describer
        d.gate(self.lang, self.day)  # a revocation mid-run stops the lines not yet spoken
        p = dataclasses.replace(self.prosody, rate=round(self.prosody.rate * rate, 4))
        uri, seconds, local = synth_clip(self.run.store, d.tts, d.voice, said or text, p, self.run.scratch)
        record_voice_output(self.settings, d.voice, d.consent_id, uri, d.tts.info.as_dict(), d.use, self.lang)
        spoken = Spoken(text=text, uri=uri, seconds=seconds, local=local, rate=rate)
        self.made[key] = spoken
        return spoken

    def voice_all(
        self,
        cues: list[Cue],
        spans: list[tuple[float, float]],
        gaps: list[tuple[float, float]],
        duration: float,
        extended: bool = False,
    ) -> Voiced:
        """Every cue spoken, placed in `gaps` (standard, and with `extended` also extended description),
        heard again, and laid on the programme's timeline (and the extended one)."""
        run = self.run
        texts = {c.id: c.text for c in cues}
        condensed: dict[str, Any] = {}
        for n, c in enumerate(cues):
            self.speak(c.text, 1.0)
            run.step(n + 1, len(cues), f"description {c.id}")
        asks = [self._ask(c, texts[c.id], shortened=False) for c in cues]
        std = place(asks, gaps, self.limits)
        # rung b: a shorter text for each line that fits no gap even faster; then everything is placed again
        asks = self._shorten(cues, std, asks, texts, condensed)
        std = place(asks, gaps, self.limits)
        ext = place(asks, gaps, dataclasses.replace(self.limits, extended=True)) if extended else None
        finals = {d.id: self.speak(texts[d.id], d.rate) for d in std}
        ext_finals = {d.id: self.speak(texts[d.id], d.rate) for d in ext} if ext is not None else {}
        for d in [*std, *(ext or [])]:  # how long a re-synthesis may last: the room it was placed in
            room = d.gap[1] - d.start if d.gap is not None and "extend" not in d.steps else d.spoken_s
            key = (texts[d.id], round(d.rate, 4))
            self.rooms[key] = min(self.rooms.get(key, room), max(room, d.spoken_s))
        qa = self._check([*finals.values(), *ext_finals.values()])
        finals = {k: self._best(v) for k, v in finals.items()}
        ext_finals = {k: self._best(v) for k, v in ext_finals.items()}
        by_id = {c.id: c for c in cues}
        parts = (by_id, texts, condensed, spans, duration, run.scratch)
        std_layout = lay_out(std, finals, *parts, name="description.wav")
        ext_layout = None
        if ext is not None:
            ext_layout = lay_out(ext, ext_finals, *parts, name="description.extended.wav", extended=True)
        return Voiced(std=std_layout, extended=ext_layout, qa=qa, figures=figures(std_layout.placed))

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
        """Every final clip heard again; one heard wrong (DESCRIPTION_MAX_WER) spoken again, best kept."""
        if not self.settings.qa or not clips:
            return None
        from pipeline.core.engines import get_asr
        from pipeline.speech import hearing
        from pipeline.speech import qa as line_qa

        unique = list({(c.text, round(c.rate, 4)): c for c in clips}.values())
        checker = hearing.LineChecker.from_settings(self.qa_settings)
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
            "max_wer": self.qa_settings.qa_max_wer,
            "asr": get_asr(self.settings).info.as_dict(),
        }

    @property
    def qa_settings(self) -> Settings:
        return self.settings.model_copy(update={"qa_max_wer": min(self.settings.qa_max_wer, DESCRIPTION_MAX_WER)})

    def _retry(self, c: Spoken, checker: Any, reference: Any) -> bool:
        """Dubbing's QA variants (pipeline.speech.qa.VARIANTS): slower, then spelled out and slower; a slower
        take that would outlast the line's room is spoken at the line's own rate instead."""
        from models.text import normalise_for_speech
        from pipeline.speech import qa

        made: dict[Path, Spoken] = {c.local: c}
        room = self.rooms.get((c.text, round(c.rate, 4)), c.seconds)

        def make(attempt: int) -> tuple[Path, str]:
            v = qa.variant(attempt)
            said = normalise_for_speech(c.text, self.lang) if v["normalise"] else None
            rate = round(c.rate * float(v["rate"]), 4)
            s = self.speak(c.text, rate, said=said)
            what = f"{v['name']} (rate {rate:.2f})"
            if s.seconds > room + SLACK_S:  # no room to slow down: spelled out at the line's own rate
                s = self.speak(c.text, c.rate, said=normalise_for_speech(c.text, self.lang))
                what = f"spelled out (rate {c.rate:.2f}; no room to slow down)"
            made[s.local] = s
            return s.local, what

        assert c.qa is not None
        chosen, verdict = qa.synthesize_checked(
            make, c.text, self.lang, checker, self.qa_settings, reference, first=(c.local, c.qa)
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


def figures(placed: list[PlacedCue]) -> dict[str, Any]:
    return {
        "placed_within_1s": sum(abs(p.start - p.asked) <= 1.0 for p in placed),
        "shortened": sum(p.shortened for p in placed),
        "rated": sum(p.rate > 1.001 for p in placed),
        "overruns": sum(p.overrun_s > 0 for p in placed),
        "overrun_s": round(sum(p.overrun_s for p in placed), 3),
        "delayed": sum("delay" in p.steps for p in placed),
    }


def placed_json(placed: list[PlacedCue]) -> bytes:
    return json.dumps([p.model_dump(mode="json") for p in placed], indent=1).encode()


def load_placed(settings: Settings, uri: str) -> list[PlacedCue]:
    from pipeline.core.stagerun import open_settings_store
    from pipeline.core.storage import get_json, key_of

    store = open_settings_store(settings)
    return [PlacedCue.model_validate(p) for p in get_json(store, key_of(store, uri))]
