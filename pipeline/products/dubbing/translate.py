"""translate: one target language of the Script, through the engine chosen for the pair.

Each line goes with its neighbours as context (DUBLINE_MT_CONTEXT_LINES) and the job's glossary; with
DUBLINE_MT_BUDGET_RATIO set, also with a length budget (that ratio of the source line) up front. Every
Translation records the engine that made it (the LLM, or its fallback), the weights' sha256, the prompt
version and any flags; the stage result's `engine` (the job report's `models.mt`) records the same.
"""

from __future__ import annotations

import math
from pathlib import Path

from pipeline.core.config import Settings
from pipeline.core.errors import ConfigError, InputError
from pipeline.core.inputs import resolve_input
from pipeline.core.langs import normalize_language
from pipeline.core.script import Translation
from pipeline.core.stagerun import JsonDoc, StageRun, run_stage
from pipeline.products.dubbing.contracts import Translated
from pipeline.products.dubbing.revise import kept_translations, previous_transcript, stale_of
from pipeline.stages.common import load_script, save_script
from pipeline.stages.contracts import Transcribed
from pipeline.text.translation.base import LineContext
from pipeline.text.translation.checks import measure
from pipeline.text.translation.choose import translate_lines
from pipeline.text.translation.engines import choose_translator, translator_provenance
from pipeline.text.translation.glossary import Glossary, GlossaryError, load, parse


def load_glossary(settings: Settings, spec: str | None = None, scratch: Path | None = None) -> Glossary | None:
    """The job's glossary: inline JSON, or a path / file:// / s3:// URI of a JSON or TSV file; empty means
    DUBLINE_MT_GLOSSARY (and none when that is empty too)."""
    spec = (spec or "").strip() or settings.mt_glossary.strip()
    if not spec:
        return None
    try:
        if spec.startswith("{"):
            return parse(spec, "the glossary parameter")
        path = resolve_input(spec, scratch or settings.data_dir / "work", settings)
        if not path.is_file():
            raise InputError(f"glossary {spec}: no such file", "give a JSON or TSV glossary file (see README)")
        return load(path)
    except GlossaryError as e:
        raise InputError(str(e), "fix the glossary file (format: README, 'Glossary')") from None


def _before_edit(
    settings: Settings, transcribed: Transcribed, target: str, glossary: str | None
) -> tuple[Translated | None, dict[str, str]]:
    """Where the transcript was edited: this language's translation of the transcript before the edit (the
    recorded result, or made now) and the lines the edit made stale."""
    previous = previous_transcript(transcribed)
    if previous is None:
        return None, {}
    return translate(settings, previous, target, glossary), stale_of(transcribed.revision)


def _carried(transcribed: Transcribed, kept: dict[str, Translation], translated: int) -> JsonDoc | None:
    """The transcript's revision as this language sees it: its stale lines, and what was kept."""
    if transcribed.revision is None:
        return None
    stale: JsonDoc = dict(stale_of(transcribed.revision))
    return {"stale": stale, "kept_lines": len(kept), "translated_lines": translated}


def neighbours(texts: list[str], n: int) -> list[LineContext]:
    """For each line, up to n source lines before and after it."""
    return [
        LineContext(
            tuple(t for t in texts[max(0, i - n) : i] if t.strip()),
            tuple(t for t in texts[i + 1 : i + 1 + n] if t.strip()),
        )
        for i in range(len(texts))
    ]


def translate(settings: Settings, transcribed: Transcribed, target: str, glossary: str | None = None) -> Translated:
    source = transcribed.language
    target = normalize_language(target)
    if target == source:
        raise ConfigError(f"target language {target} is the source language", "pick another --to language")
    engine = choose_translator(settings, source, target)
    gloss = load_glossary(settings, glossary)
    ratio, unit = settings.mt_budget_ratio, settings.mt_budget_unit
    provenance = translator_provenance(engine)
    # a reviewer edited the transcript: the lines it left as they were keep the translation they had
    kept_from, stale = _before_edit(settings, transcribed, target, glossary)
    material = {
        "script": transcribed.script_uri,
        "key": transcribed.key,
        "target": target,
        "engine": provenance,
        "context_lines": settings.mt_context_lines,
        "glossary": gloss.as_dict() if gloss else None,
        "budget": [ratio, unit] if ratio else None,
        "kept_from": kept_from.key if kept_from else None,
    }

    def work(run: StageRun) -> Translated:
        script = load_script(run.store, transcribed.script_uri).revised(f"translate:{target}")
        texts = [s.text for s in script.segments]
        run.step(0, len(texts))
        budgets: list[int | None] = [
            max(1, math.ceil(ratio * measure(t, unit, source))) if ratio and t.strip() else None for t in texts
        ]
        stats = getattr(engine, "stats", None)
        cached_before = stats.cached if stats is not None else 0
        kept = kept_translations(load_script(run.store, kept_from.script_uri), target, stale) if kept_from else {}
        todo = [i for i, seg in enumerate(script.segments) if seg.id not in kept]
        context = neighbours(texts, settings.mt_context_lines)
        fresh = (
            translate_lines(
                engine,
                [texts[i] for i in todo],
                source,
                target,
                [budgets[i] for i in todo] if ratio else None,
                [context[i] for i in todo],
                gloss,
                unit,
            )
            if todo
            else []
        )
        by_index = dict(zip(todo, fresh, strict=True))
        counts: dict[str, int] = {}
        fallbacks = flagged = over = 0
        llm_id = engine.info.id
        for i, (seg, budget) in enumerate(zip(script.segments, budgets, strict=True)):
            if seg.id in kept:
                seg.translations[target] = kept[seg.id]
                counts["kept"] = counts.get("kept", 0) + 1
                continue
            r = by_index[i]
            is_main = r.engine == llm_id
            seg.translations[target] = Translation(
                text=r.text.strip(),
                engine=r.engine,
                budget_chars=budget if unit == "chars" else None,
                budget_syllables=budget if unit == "syllables" else None,
                model_sha256=(engine.info.sha256 or None) if is_main else None,
                prompt_version=(engine.info.prompt_version or None) if is_main else None,
                flags=list(r.flags),
            )
            counts[r.engine] = counts.get(r.engine, 0) + 1
            fallbacks += "fallback" in r.flags
            flagged += "unvalidated" in r.flags
            if budget is not None and r.text.strip() and measure(r.text.strip(), unit, target) > budget:
                over += 1
        run.step(len(texts), len(texts))
        script.languages = sorted({*script.languages, target})
        budgeted = sum(1 for b, t in zip(budgets, texts, strict=True) if b is not None and t.strip())
        return Translated(
            language=target,
            script_uri=save_script(run, script),
            engine=provenance,
            lines=len(texts),
            lines_by_engine=counts,
            fallbacks=fallbacks,
            unvalidated=flagged,
            cached_lines=(stats.cached - cached_before) if stats is not None else 0,
            glossary_entries=(len(gloss.keep) + len(gloss.terms)) if gloss else 0,
            budget={"ratio": ratio, "unit": unit, "lines": budgeted, "met": budgeted - over} if ratio else None,
            revision=_carried(transcribed, kept, len(todo)),
        )

    return run_stage(settings, "translate", material, work, Translated, label=target)
