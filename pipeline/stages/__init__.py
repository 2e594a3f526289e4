"""Stages every product can run, each a plain function: typed inputs in, a small typed result out, media in
the store (ingest, transcribe, diarize, separate, mix). May import every shared package of `pipeline` and
`models`; never a product.
"""
