"""Dubbing: the stages of the `dub_video` DAG that are its own (cast, translate, revise, synthesize, fit,
mux, sign, publish), the per-line records of synthesis that a re-run after an edit reuses (lines), and its
typed contracts. May import every shared package of `pipeline` and `models`.
"""
