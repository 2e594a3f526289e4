"""Translating a Script's lines: the translation domain over the engines of `models` (Apertium, a chat LLM).

- base: the Translator interface, a line's context, a rendering with its engine and flags, the line cache.
- glossary: names to keep and terms with a fixed rendering. checks: what a translation must pass (language,
  numbers, names, commentary, length; syllable counting). shorten: making a line shorter without a model.
- prompt: the LLM's prompt per line and its cache key. llm: the LLM line translator (request, check, retry
  with the reason, fallback, cache). rules: Apertium with its length rung.
- choose: choosing among translators and translating with any of them. engines: the translators a run uses,
  from settings, and their provenance.

May import `pipeline.core` and `models`; nothing else of `pipeline`.
"""
