"""Audiobooks: manuscripts (EPUB 2/3, Markdown, plain text) in, ACX-ready narrated books (m4b with chapters,
one MP3 per chapter, a QA and ACX report) out. Owns what is its own: reading a manuscript into chapters,
chunking it for narration, the narration of a chapter, ACX mastering, packaging and publishing. May import
every shared package of `pipeline` and `models`, never another product.
"""
