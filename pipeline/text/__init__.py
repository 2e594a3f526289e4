"""Words and time: the timing ladder (timing, pure functions), broadcast subtitles (subtitles), translation
(translation/: glossary, checks, prompt, the LLM line translator, Apertium's rung, the choice of engine) and
its line cache in the object store (mt_cache), and a Script exported for review and read back (script_io,
script_files: SRT, WebVTT, DAPT, JSON). May import `pipeline.core` and `models` only.
"""
