"""Speech machinery any product uses: diarization (speaker_turns: embeddings and clustering; diarize: lines
re-split at turns), casting (a voice per speaker), prosody (prosody_measure: measuring a line's delivery;
prosody: carrying it to a voice, named styles) and line QA (hearing: each synthesized line heard again by
Whisper; qa: the retry loop). May import `pipeline.ledger`, `pipeline.audio`, `pipeline.text`,
`pipeline.core` and `models`; never `pipeline.voice` (its independent sibling), a stage, a product or the CLI.
"""
