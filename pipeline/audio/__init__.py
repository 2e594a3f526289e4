"""Sound: probing and encoding media with ffmpeg, separation of dialogue from the bed, ducking and mixing,
loudness measurement and normalization, and the demo sample. May import `pipeline.text`, `pipeline.core` and
`models`; never the ledger, speech, voice, stages, products or the CLI.
"""
