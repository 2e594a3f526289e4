"""Speech machinery any product uses: diarization (who speaks when), casting (a voice per speaker),
prosody (measuring and carrying delivery) and line QA (hearing each synthesized line again). May import
`pipeline.core`, `pipeline.audio`, `pipeline.text`, `pipeline.ledger`, `pipeline.voice` and `models`;
never a product.
"""
