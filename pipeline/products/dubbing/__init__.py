"""Dubbing: the stages of the `dub_video` DAG that are its own (cast, translate, synthesize, fit, mux,
sign, publish) and its typed contracts. May import every shared package of `pipeline` and `models`.
"""
