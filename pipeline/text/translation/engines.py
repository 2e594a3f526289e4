"""The translators a run uses, built from settings (cached per worker process), the one chosen for a
language pair, and what provenance records about it.

Which engines, in which order per pair, and which LLM weights are configuration: a registry model id
resolves to its verified file under the model directory; anything else is taken as an operator's own GGUF.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, cast

from models import registry
from models.apertium import Apertium
from models.base import EngineUnavailable
from models.llama import LlamaChat
from models.system import base_language
from pipeline.core.config import Settings
from pipeline.core.errors import ConfigError
from pipeline.text.translation.base import Translator
from pipeline.text.translation.choose import choose_in_order
from pipeline.text.translation.llm import LLMTranslator
from pipeline.text.translation.rules import ApertiumTranslator

MT_ENGINES = ("llm", "apertium")


def _file_sha(path: Path) -> str:
    st = path.stat()
    return _file_sha_cached(str(path), st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=8)
def _file_sha_cached(path: str, size: int, mtime_ns: int) -> str:
    return registry.sha256_file(Path(path))


def _resolve_llm(settings: Settings) -> tuple[Path, str, str, str]:
    """(path, model id, version, sha256) of the LLM translator's GGUF. A registered model that is not
    installed resolves to its (absent) path: the LLM is then unavailable and the next engine is used."""
    name = settings.mt_llm_model
    if name in registry.SPECS:
        spec = registry.SPECS[name]
        path = registry.model_path(spec.id, settings.model_dir) / spec.main_file
        if registry.status(spec, settings.model_dir) != "ready":
            path = path.with_name(path.name + ".missing")
        return path, spec.id, spec.version, spec.main_sha256
    path = Path(name).expanduser()
    if not path.is_file():
        raise ConfigError(
            f"LLM translation model {name!r} is neither a registered model nor a .gguf file",
            "set DUBLINE_MT_LLM_MODEL to qwen2.5-coder-1.5b-instruct-gguf or to your own chat GGUF file",
        )
    return path, f"custom:{path.name}", "operator-provided GGUF", _file_sha(path)


@lru_cache(maxsize=4)
def _translators(
    names: tuple[str, ...], llm: tuple[str, str, str, str] | None, languages: tuple[str, ...], threads: int, ctx: int
) -> tuple[Translator, ...]:
    out: list[Translator] = []
    for n in names:
        if n == "apertium":
            out.append(ApertiumTranslator(Apertium()))
        elif n == "llm" and llm is not None:
            path, mid, version, sha = llm
            out.append(LLMTranslator(LlamaChat(Path(path), mid, version, sha, ctx, threads), languages))
        elif n not in MT_ENGINES:
            raise ConfigError(
                f"unknown translation engine {n!r}", f"set DUBLINE_MT_ENGINES to engines of: {', '.join(MT_ENGINES)}"
            )
    return tuple(out)


def get_translators(settings: Settings) -> list[Translator]:
    """The enabled translation engines (an LLM whose weights or runtime are missing offers no pairs)."""
    names = tuple(settings.mt_engines)
    llm = None
    if "llm" in names:
        path, mid, version, sha = _resolve_llm(settings)
        llm = (str(path), mid, version, sha)
    languages = tuple(settings.mt_llm_languages)
    return list(_translators(names, llm, languages, settings.mt_llm_threads, settings.mt_llm_ctx))


_MT_CACHES: dict[str, Any] = {}


def mt_cache(settings: Settings) -> Any:
    """The translation cache in the settings' object store (one per store, per process)."""
    from pipeline.core.storage import open_store
    from pipeline.text.mt_cache import StoreCache

    url = settings.resolved_store_url
    if url not in _MT_CACHES:
        _MT_CACHES[url] = StoreCache(open_store(url, settings))
    return _MT_CACHES[url]


def choose_translator(settings: Settings, source: str, target: str) -> Translator:
    """The engine for source->target by DUBLINE_MT_ORDER; an LLM translator gets the next able engine of
    the order as its fallback. Engines not installed here (no LLM weights or runtime) are skipped."""
    src, tgt = base_language(source), base_language(target)
    try:
        chosen, fallback = choose_in_order(src, tgt, get_translators(settings), settings.mt_order_for(src, tgt))
    except EngineUnavailable as e:
        raise ConfigError(str(e), "choose a target language from that list") from None
    with_fallback = getattr(chosen, "with_fallback", None)
    if with_fallback is not None:
        return cast(Translator, with_fallback(fallback, cache=mt_cache(settings) if settings.mt_cache else None))
    return chosen


def require_target(settings: Settings, target: str) -> None:
    """With the source language still to be detected: some installed engine translates into `target`, or a
    ConfigError naming the languages that can be dubbed into (before a run transcribes anything)."""
    tgt = base_language(target)
    pairs = {p for tr in get_translators(settings) for p in tr.pairs()}
    if any(t == tgt for _, t in pairs):
        return
    into = sorted({t for _, t in pairs})
    raise ConfigError(
        f"no installed engine translates into {target}",
        f"choose a --to language from {', '.join(into) or 'none (run `make setup`)'}",
    )


def translator_provenance(translator: Translator) -> dict[str, Any]:
    """What provenance and the job report record about a translator: model id, version, weights sha256,
    prompt version, and its fallback engine."""
    doc: dict[str, Any] = {"engine": str(getattr(translator, "name", translator.info.id)), **translator.info.as_dict()}
    fallback = getattr(translator, "fallback", None)
    if fallback is not None:
        doc["fallback"] = fallback.info.as_dict()
    return doc
