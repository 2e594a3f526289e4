"""The description script as dubline holds it, whatever format it came in: cues with an asked time, an
optional end, the text to speak, and what the script said about them (DAPT's description type, a draft
mark), plus where in the source file each came from (for errors that name the line)."""

from __future__ import annotations

from pydantic import BaseModel, Field, model_validator


class Cue(BaseModel):
    """One description as written. `start` is the asked time (programme seconds); `end` the end of the
    interval the writer meant it for, or None when only a start was given (the system places it)."""

    id: str = Field(min_length=1)
    start: float = Field(ge=0)
    end: float | None = Field(default=None, ge=0)
    text: str = Field(min_length=1)
    desc_type: str = ""  # DAPT daptm:descType, e.g. "pictureDescription"; "" when the format has none
    language: str = ""  # ISO 639-1 where the cue says (DAPT xml:lang); "" = the script's
    draft: bool = False  # written by `dubline describe draft`, not yet checked by a describer
    where: str = ""  # where the cue is in its file, for messages: "line 12", "<p xml:id='d3'>"

    @model_validator(mode="after")
    def _ordered(self) -> Cue:
        if self.end is not None and self.end <= self.start:
            raise ValueError(f"cue {self.id} ends ({self.end:.3f} s) before it starts ({self.start:.3f} s)")
        return self


class DescriptionScript(BaseModel):
    """A script: its cues in order of start, its language ("" when the file does not say) and format."""

    format: str  # "webvtt" | "dapt" | "csv" | "json"
    language: str = ""
    title: str = ""
    cues: list[Cue]

    @model_validator(mode="after")
    def _sorted(self) -> DescriptionScript:
        self.cues = sorted(self.cues, key=lambda c: (c.start, c.id))
        ids = [c.id for c in self.cues]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"cue ids must be unique; repeated: {', '.join(dup)}")
        return self


class PlacedCue(BaseModel):
    """A cue as spoken: where it went and how (what the as-placed WebVTT/DAPT and the report say)."""

    id: str
    asked: float  # the cue's asked start
    text: str  # the text as written
    spoken_text: str  # what was said (the shortened text where it was shortened)
    start: float  # placed start, programme time
    end: float  # placed end, programme time (start + spoken seconds in standard mode)
    gap: tuple[float, float] | None = None  # the dialogue gap it was placed in (None: no gap fit)
    rate: float = 1.0  # engine rate asked (1.0 = natural)
    shortened: bool = False  # spoken in fewer words than written (spoken_text differs from text)
    shortening: dict[str, object] | None = None  # how it was shortened: engine, budget, within, flags
    extended_s: float = 0.0  # seconds the picture is held for it (extended description only)
    overrun_s: float = 0.0  # seconds spoken over dialogue, flagged for review (0 in a clean placement)
    steps: list[str] = Field(default_factory=list)  # fits | delay | rate | shorten | extend | overrun
    audio_uri: str = ""  # the spoken clip in the store
    desc_type: str = ""
    draft: bool = False
    qa: dict[str, object] | None = None
