"""People's voices: the consent gate every person's voice passes through before synthesis, the consent
flows behind `dubline consent` (request, grant with the voice captcha, revoke) and enrolment of a cloned
voice (the `enroll_voice` DAG's stage functions). May import `pipeline.core`, `pipeline.ledger` and
`models`; never a product.
"""
