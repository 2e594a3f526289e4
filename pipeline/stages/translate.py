"""translate: one target language of the Script, through the engine chosen for the pair."""

from __future__ import annotations

from typing import Any

from pipeline.config import Settings
from pipeline.engines import choose_translator
from pipeline.errors import ConfigError
from pipeline.jobs import StageRun, run_stage
from pipeline.script import Translation
from pipeline.stages.common import load_script, save_script


def translate(settings: Settings, transcribed: dict[str, Any], target: str) -> dict[str, Any]:
    source = transcribed["language"]
    target = target.strip().lower()
    if target == source:
        raise ConfigError(f"target language {target} is the source language", "pick another --to language")
    engine = choose_translator(settings, source, target)
    material = {
        "script": transcribed["script_uri"],
        "key": transcribed.get("key"),
        "target": target,
        "engine": engine.info.as_dict(),
    }

    def work(run: StageRun) -> dict[str, Any]:
        script = load_script(run.store, transcribed["script_uri"]).revised(f"translate:{target}")
        texts = [s.text for s in script.segments]
        run.step(0, len(texts))
        out = engine.translate(texts, source, target)
        for seg, text in zip(script.segments, out, strict=True):
            seg.translations[target] = Translation(text=text.strip(), engine=engine.info.id)
        run.step(len(texts), len(texts))
        script.languages = sorted({*script.languages, target})
        return {
            "language": target,
            "script_uri": save_script(run, script),
            "engine": engine.info.as_dict(),
            "lines": len(texts),
        }

    return run_stage(settings, "translate", material, work, label=target)
