"""dubline's domain, in packages by concern. Never imports Airflow: every stage is a plain function, run
and tested without a scheduler (import-linter checks it, `make lint`).

- core/: the Script, typed stage contracts and the stage runner, settings, errors, storage (local and S3),
  progress events, engine selection. Imports nothing else of `pipeline`.
- speech/, voice/, audio/, text/, ledger/: shared machinery (transcription helpers, diarization, casting,
  prosody, line QA; consent gate and enrolment; media, separation, mixing, loudness; timing, subtitles,
  translation; database, audit, provenance, signing, marking). They import `core` and `models`.
- stages/: stages any product runs (ingest, transcribe, diarize, separate, mix).
- products/: one package per product (dubbing today); products never import each other.
- cli/: the `dubline` command, one module per command group; the only place that runs a DAG.
"""

__version__ = "0.1.0"
