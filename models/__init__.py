"""Engine adapters: one module per engine family behind a small Protocol of `models.base` (ASR: asr,
whisper_convert; TTS: pico, espeak, piper, kokoro, with tts holding what they share; translation engines:
apertium, llama; speaker embedding and voice activity: speaker, vad; separation; WORLD and Praat: worldfx;
voice cloning: cloning/; denoisers: denoise (DeepFilterNet 3), denoise_dsp; music: FluidSynth and the bed
library), the registry of weights each uses (registry: the pinned specs; weights: install
and verify), and the few primitives every layer shares (files: atomic writes; text: edit distance, number
spelling, WER; system: engine info). Imports nothing of `pipeline` (import-linter checks it).
"""
