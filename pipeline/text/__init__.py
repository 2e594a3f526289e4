"""Words and time: the timing ladder (pure functions), broadcast subtitles and the translation cache.
May import `pipeline.core` and `models`; never a product.
"""
