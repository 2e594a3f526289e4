"""The consent and provenance ledger: tables, the audit chain, consent records and provenance manifests.

Modules: tables (the ORM schema), audit (the hash-chained log), statement (the consent statement and its
checks), consents (request, grant, revoke, the gate's query), provenance (artifacts and manifests).
"""
