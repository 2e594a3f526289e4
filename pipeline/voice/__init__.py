"""People's voices: the consent gate every person's voice passes through before synthesis, the consent
flows behind `dubline consent` (request, grant with the voice captcha, revoke), and enrolment of a cloned
voice (the `enroll_voice` DAG's stage functions and their contracts). May import `pipeline.ledger`,
`pipeline.audio`, `pipeline.text`, `pipeline.core` and `models`; never `pipeline.speech` (its independent
sibling), a stage, a product or the CLI.
"""
