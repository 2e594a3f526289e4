"""The consent and provenance ledger: the project's database (SQLAlchemy, Alembic migrations), tables,
the hash-chained audit log, consent records and the statement checks, voice profiles, provenance
manifests, C2PA signing and the inaudible watermark. May import `pipeline.core` and `models`.
"""
