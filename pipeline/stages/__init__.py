"""Stages every product can run, each a plain function: typed inputs in, a small typed result out
(contracts), media in the store: ingest, transcribe, diarize, separate, mix; and `common.call_stage`, the
entry a DAG task calls a stage through. May import every shared package of `pipeline` and `models`; never a
product or the CLI.
"""
