"""Audio description: a programme and a description script (WebVTT, W3C DAPT, CSV or JSON) in; the
descriptions spoken in the gaps between dialogue, the programme ducked under them, and a described video
(and, on request, an extended one that pauses the picture where a description needs more time) out. Owns
its stages (read_script, map_dialogue, voice_descriptions, mix_description, render_described, publish),
extended description, drafting a script from the picture, and the batch. The script formats and placement
(pipeline.text.descriptions) and the describer, layout and AD mix (pipeline.stages.describing) are shared:
a dub's described track uses them too. May import every shared package of `pipeline` and `models`, never
another product.
"""
