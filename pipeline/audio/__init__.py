"""Sound: probing and encoding media with ffmpeg, separation of dialogue from the bed, ducking and mixing,
loudness measurement and normalization, the demo sample; denoising (denoise, denoise_media), composed beds
and idents (compose, compose_score), ambience, and beds (the one entry point the products lay beds with).
May import `pipeline.text`, `pipeline.core` and `models`; never the ledger, speech, voice, stages, products
or the CLI.
"""
