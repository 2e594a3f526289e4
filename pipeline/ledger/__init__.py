"""The consent and provenance ledger: the project's database (db: SQLAlchemy, Alembic migrations), tables,
the hash-chained audit log, consent records and the statement checks, voice profiles, provenance manifests
and their verification, C2PA signing (certificates, signing, job_facts) and the inaudible watermark
(watermark, watermark_embed, watermark_detect; marking applies and reads it). May import `pipeline.audio`,
`pipeline.text`, `pipeline.core` and `models`; never speech, voice, stages, products or the CLI.
"""
