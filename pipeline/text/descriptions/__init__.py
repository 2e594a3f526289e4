"""Description scripts and where descriptions go, as text and time (no media, no models): the cue model
(cues), the readers and writers of WebVTT description tracks, W3C DAPT and CSV/JSON (scripts, webvtt_io, dapt,
tabular), the dialogue map's spans and gaps (dialogue) and the placement ladder beside the timing ladder
(placement, pure). Audio description renders with them; a dub adds a described track with them.
"""
