"""Audio description: a programme and a description script (WebVTT, W3C DAPT, CSV or JSON) in; the
descriptions spoken in the gaps between dialogue, the programme ducked under them, and a described video
(and, on request, an extended one that pauses the picture where a description needs more time) out. Owns
what is its own: reading scripts, the dialogue map, placement, the description voice, the AD mix, extended
description, drafting a script from the picture, packaging and publishing. May import every shared package
of `pipeline` and `models`, never another product.
"""
