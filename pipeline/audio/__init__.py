"""Sound: probing and encoding media with ffmpeg, separation of dialogue from the bed, ducking and mixing,
loudness measurement and normalization, and the demo sample. May import `pipeline.core`, `pipeline.text`
and `models`; never a product.
"""
