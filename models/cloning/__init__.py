"""Voice cloning backends (models.base.VoiceCloner): a person's consented reference speech -> a voice profile.

No zero-shot cloning model ships offline here (../shared/MODELS.md), so the backends are built from what does:
- "knn-vc": kNN voice conversion (models/cloning/knnvc.py): a stock Kokoro voice speaks the line, then each of
  its frames is replaced by the person's reference frames nearest in Whisper-encoder content features (and in
  pitch), spoken by the HiFi-GAN vocoder (models/cloning/vocoder.py); see models/cloning/knn_backend.py;
- "auto" (the default): enrols with knn-vc and world-match and keeps the one with the best held-out similarity
  within the intelligibility bound, recording every candidate's figures;
- "kokoro-search": a search of Kokoro-82M's 256-d style space for the style whose speech Resemblyzer places
  closest to the person. It starts from a bank of candidate styles (the 5 stock styles, their blends,
  extrapolations and random perturbations) synthesized once per machine and cached on disk with their
  embeddings (reference-independent), picks the starting points by cosine to the person instantly, then runs
  generations that mix (a) steps along the gradient of a ridge-regression linear map style -> embedding,
  refitted on every candidate heard so far, and (b) evolution-strategy samples around the elite mean, with an
  adaptive step. The finalists are re-scored on unseen sentences (0.85 x similarity + 0.15 x self-consistency)
  and re-transcribed by Whisper, so the search cannot trade words for likeness.
- "world-match": WORLD voice matching (models/cloning/world.py) of the stock Kokoro style closest to the person:
  F0 statistics, formant warp (searched), long-term spectrum EQ.
- "kokoro-search+world": the searched style, then WORLD matching on top.
- "module:Class": an operator's own class with the same interface (e.g. a neural cloning TTS with their weights).

Two judges: Resemblyzer, which every search and choice is tuned on, and CAM++ (models/cloning/campp.py), an
independent encoder reported beside it (profile, ledger, `make eval EVAL=cloning`, each cloned line of a job's
report), so a backend that games one encoder shows.

References are split by time into enrolment speech (what the search aims at) and held-out clips (never seen by
the search; `held_out_similarity` is the mean cosine of the final voice's Spanish speech to them).

Modules:
    embedding.py   reference speech, Resemblyzer embeddings, the enrolment / held-out split, held-out similarity
    search.py      the style search (linear map gradient + evolution strategy) and the style bank's candidates
    profiles.py    the profile folder (layout, digest, reading) and ProfileTTS, which speaks with it
    enrolment.py   what the built-in backends share: the bank cache, the finalists' check, Whisper's WER
    backends.py    the backends by name: make_cloner, BACKENDS, the "auto" choice among them
    knnvc.py       kNN voice conversion: matching sets, the frame matching (content, pitch, source fallback)
    vocoder.py     its parts: the Whisper encoder's blocks as features, HiFi-GAN V1 and its log-mel
    knn_backend.py the "knn-vc" backend and the TTS speaking with its profiles
    campp.py       the CAM++ speaker encoder (the second judge)
    world.py       WORLD voice matching (and the Kokoro engine's pitch control)
"""
