"""CTranslate2 -> openai-whisper conversion: the binary format on small synthetic models written by
ctranslate2's own serializer, and the real whisper-base weights checked against the CTranslate2 runtime."""

from __future__ import annotations

import base64
import gzip
import os
import time
from pathlib import Path

import numpy as np
import pytest

from models import registry
from models.whisper_convert import (
    ConversionError,
    convert_ct2_to_openai,
    convert_registered,
    ct2_to_state_dict,
    read_ct2_model,
)

D, FFN, HEADS, VOCAB, MELS, ACTX, TCTX = 8, 32, 2, 51865, 4, 6, 5


def _shape(name: str) -> tuple[int, ...]:
    last = name.split("/")
    leaf = last[-1]
    if leaf in ("gamma", "beta"):
        return (D,)
    if name == "encoder/conv1/weight":
        return (D, MELS, 3)
    if name == "encoder/conv2/weight":
        return (D, D, 3)
    if name.startswith("encoder/conv"):
        return (D,)
    if name == "encoder/position_encodings/encodings":
        return (ACTX, D)
    if name == "decoder/position_encodings/encodings":
        return (TCTX, D)
    if name == "decoder/embeddings/weight":
        return (VOCAB, D)
    rows = {
        "self_attention/linear_0": 3 * D,
        "attention/linear_1": 2 * D,
        "ffn/linear_0": FFN,
    }.get("/".join(last[-3:-1]), D)
    if leaf == "bias":
        return (rows,)
    cols = FFN if name.endswith("ffn/linear_1/weight") else D
    return (rows, cols)


def _write_synthetic(out_dir: Path, quantization: str | None, seed: int = 0) -> dict[str, np.ndarray]:
    """A 1+1-layer Whisper saved by ctranslate2's WhisperSpec; returns the float32 values it was given."""
    pytest.importorskip("ctranslate2")
    from ctranslate2.specs import model_spec, whisper_spec

    spec = whisper_spec.WhisperSpec(1, HEADS, 1, HEADS)
    rng = np.random.default_rng(seed)
    given: dict[str, np.ndarray] = {}

    def fill(layer: object, name: str, value: object) -> None:
        if name.startswith("decoder/projection/"):
            return  # tied to the embedding, no bias
        optional_wanted = value == model_spec.OPTIONAL and name.endswith(("/encodings", "/bias"))
        if value is not None and not optional_wanted:
            return
        arr = rng.standard_normal(_shape(name)).astype(np.float32)
        if name.endswith("attention/linear_0/bias") and "self_attention" in name:
            arr[D : 2 * D] = 0  # whisper's key has no bias
        if name.endswith("attention/linear_1/bias") and "self_attention" not in name:
            arr[:D] = 0
        given[name] = arr
        setattr(layer, name.rsplit("/", 1)[-1], arr.copy())  # ct2's quantizer scales arrays in place

    model_spec.visit_spec(spec, fill)
    spec.decoder.projection.weight = spec.decoder.embeddings.weight
    spec.register_vocabulary([f"t{i}" for i in range(VOCAB)])
    spec.config.alignment_heads = [[0, 1]]
    spec.validate()
    spec.optimize(quantization=quantization)
    out_dir.mkdir(parents=True, exist_ok=True)
    spec.save(str(out_dir))
    return given


def _whisper_state(ckpt: Path) -> tuple[dict[str, int], dict[str, np.ndarray], dict[str, object]]:
    torch = pytest.importorskip("torch")
    whisper = pytest.importorskip("whisper")
    raw = torch.load(str(ckpt), map_location="cpu", weights_only=True)
    model = whisper.model.Whisper(whisper.model.ModelDimensions(**raw["dims"]))
    model.load_state_dict(raw["model_state_dict"])  # strict: every key present, none extra
    sd = {k: t.float().numpy() for k, t in raw["model_state_dict"].items()}
    return raw["dims"], sd, raw


def _expected(given: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    e: dict[str, np.ndarray] = {}
    for p, q in (("encoder/layer_0", "encoder.blocks.0"), ("decoder/layer_0", "decoder.blocks.0")):
        w, b = given[f"{p}/self_attention/linear_0/weight"], given[f"{p}/self_attention/linear_0/bias"]
        e[f"{q}.attn.query.weight"], e[f"{q}.attn.key.weight"], e[f"{q}.attn.value.weight"] = np.split(w, 3)
        e[f"{q}.attn.query.bias"], _, e[f"{q}.attn.value.bias"] = np.split(b, 3)
        e[f"{q}.attn.out.weight"] = given[f"{p}/self_attention/linear_1/weight"]
        e[f"{q}.mlp.0.weight"] = given[f"{p}/ffn/linear_0/weight"]
        e[f"{q}.mlp.2.weight"] = given[f"{p}/ffn/linear_1/weight"]
        e[f"{q}.mlp_ln.weight"] = given[f"{p}/ffn/layer_norm/gamma"]
        e[f"{q}.attn_ln.bias"] = given[f"{p}/self_attention/layer_norm/beta"]
    c = "decoder.blocks.0.cross_attn"
    e[f"{c}.query.weight"] = given["decoder/layer_0/attention/linear_0/weight"]
    e[f"{c}.key.weight"], e[f"{c}.value.weight"] = np.split(given["decoder/layer_0/attention/linear_1/weight"], 2)
    e[f"{c}.value.bias"] = np.split(given["decoder/layer_0/attention/linear_1/bias"], 2)[1]
    e[f"{c}.out.weight"] = given["decoder/layer_0/attention/linear_2/weight"]
    e["decoder.blocks.0.cross_attn_ln.weight"] = given["decoder/layer_0/attention/layer_norm/gamma"]
    e["encoder.conv1.weight"] = given["encoder/conv1/weight"]
    e["encoder.conv2.weight"] = given["encoder/conv2/weight"]
    e["encoder.conv2.bias"] = given["encoder/conv2/bias"]
    e["encoder.positional_embedding"] = given["encoder/position_encodings/encodings"]
    e["encoder.ln_post.weight"] = given["encoder/layer_norm/gamma"]
    e["decoder.token_embedding.weight"] = given["decoder/embeddings/weight"]
    e["decoder.positional_embedding"] = given["decoder/position_encodings/encodings"]
    e["decoder.ln.bias"] = given["decoder/layer_norm/beta"]
    return e


@pytest.mark.parametrize(
    ("quantization", "rtol", "atol"),
    [
        ("float32", 0, 0),
        ("float16", 1e-3, 1e-3),
        ("int8", 0, 0.02),
        ("int16", 0, 0.01),
        ("bfloat16", 1e-2, 1e-2),
    ],
)
def test_synthetic_model_round_trip(tmp_path: Path, quantization: str, rtol: float, atol: float) -> None:
    given = _write_synthetic(tmp_path / "ct2", quantization)
    ckpt = convert_ct2_to_openai(tmp_path / "ct2", tmp_path / "out" / "model.pt")
    dims, sd, raw = _whisper_state(ckpt)
    assert dims == {
        "n_mels": MELS,
        "n_audio_ctx": ACTX,
        "n_audio_state": D,
        "n_audio_head": HEADS,
        "n_audio_layer": 1,
        "n_vocab": VOCAB,
        "n_text_ctx": TCTX,
        "n_text_state": D,
        "n_text_head": HEADS,
        "n_text_layer": 1,
    }
    for key, want in _expected(given).items():
        scale = 1.0 if quantization != "int8" else float(np.abs(want).max())
        np.testing.assert_allclose(sd[key], want, rtol=rtol, atol=atol * scale, err_msg=key)
    mask = np.frombuffer(gzip.decompress(base64.b85decode(raw["alignment_heads"])), dtype=bool)
    assert mask.reshape(1, HEADS).tolist() == [[False, True]]
    assert not list(ckpt.parent.glob("*.tmp")), "temporary file left behind"


def test_missing_encoder_positions_default_to_sinusoids(tmp_path: Path) -> None:
    """CTranslate2 makes encoder position encodings optional (it then generates sinusoids itself)."""
    _write_synthetic(tmp_path / "ct2", "float32")
    raw = read_ct2_model(tmp_path / "ct2" / "model.bin")
    del raw.variables["encoder/position_encodings/encodings"]
    dims, sd, _ = ct2_to_state_dict(raw)
    assert dims["n_audio_ctx"] == 1500
    whisper = pytest.importorskip("whisper")
    np.testing.assert_allclose(sd["encoder.positional_embedding"], whisper.model.sinusoids(1500, D).numpy(), atol=1e-4)


def test_reader_rejects_garbage(tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(b"\x63\x00\x00\x00rest")
    with pytest.raises(ConversionError, match="binary version 99"):
        read_ct2_model(tmp_path / "model.bin")
    with pytest.raises(ConversionError, match="model.bin is missing"):
        convert_ct2_to_openai(tmp_path / "nowhere", tmp_path / "x.pt")


def test_truncated_model_is_reported(tmp_path: Path, tiny_en_ct2_dir: Path) -> None:
    with open(tiny_en_ct2_dir / "model.bin", "rb") as f:
        (tmp_path / "model.bin").write_bytes(f.read(1 << 20))
    with pytest.raises(ConversionError, match="truncated"):
        read_ct2_model(tmp_path / "model.bin")


def test_real_base_matches_ctranslate2(base_ct2_dir: Path, base_pt: Path) -> None:
    """Encoder output and language-ID probabilities of the converted model equal CTranslate2's."""
    torch = pytest.importorskip("torch")
    whisper = pytest.importorskip("whisper")
    ctranslate2 = pytest.importorskip("ctranslate2")

    raw = read_ct2_model(base_ct2_dir / "model.bin")
    assert (raw.binary_version, raw.spec_name) == (6, "WhisperSpec")
    assert raw.aliases == {"decoder/projection/weight": "decoder/embeddings/weight"}

    model = whisper.load_model(str(base_pt), device="cpu")
    assert model.dims.n_vocab == 51865 and model.dims.n_text_layer == 6 and model.is_multilingual
    # the stored encoder positions are Whisper's sinusoids (to fp16 precision)
    assert torch.allclose(model.encoder.positional_embedding, whisper.model.sinusoids(1500, 512), atol=1e-3)

    rng = np.random.default_rng(1)
    t = np.arange(16000 * 5) / 16000
    audio = 0.3 * np.sin(2 * np.pi * 220 * t) * np.sin(2 * np.pi * 3 * t) + 0.01 * rng.standard_normal(t.size)
    mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(audio.astype(np.float32)), 80)

    with torch.no_grad():
        ours = model.embed_audio(mel[None]).numpy()
        _, probs = model.detect_language(mel)
    ct2 = ctranslate2.models.Whisper(str(base_ct2_dir), device="cpu", compute_type="float32")
    features = ctranslate2.StorageView.from_array(np.ascontiguousarray(mel[None].numpy()))
    theirs = np.array(ct2.encode(features, to_cpu=True))
    assert ours.shape == theirs.shape == (1, 1500, 512)
    assert np.abs(ours - theirs).max() < 1e-2 * np.abs(theirs).max()
    ct2_probs = dict(ct2.detect_language(features)[0])
    for lang in ("en", "de", "fr", "es", "zh"):
        assert probs[lang] == pytest.approx(ct2_probs[f"<|{lang}|>"], abs=2e-3)


def test_real_tiny_en_converts(tiny_en_ct2_dir: Path, tmp_path: Path) -> None:
    ckpt = convert_ct2_to_openai(tiny_en_ct2_dir, tmp_path / "tiny.en.pt")
    dims, _, raw = _whisper_state(ckpt)
    assert dims["n_vocab"] == 51864 and dims["n_text_state"] == 384 and dims["n_audio_layer"] == 4
    mask = np.frombuffer(gzip.decompress(base64.b85decode(raw["alignment_heads"])), dtype=bool).reshape(4, 6)
    assert [list(map(int, x)) for x in np.argwhere(mask)] == [
        [1, 0], [2, 0], [2, 5], [3, 0], [3, 1], [3, 2], [3, 3], [3, 4]
    ]  # fmt: skip


def test_convert_registered(base_ct2_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "whisper-base-ct2").symlink_to(base_ct2_dir, target_is_directory=True)
    spec = registry.SPECS["whisper-base-pt"]
    assert registry.status(spec, tmp_path) == "missing"
    t0 = time.perf_counter()
    out = convert_registered(tmp_path)
    elapsed = time.perf_counter() - t0
    assert out == tmp_path / "whisper-base-pt" / "base.pt" and out.is_file()
    assert registry.status(spec, tmp_path) == "ready"
    assert registry.require("whisper-base-pt", tmp_path) == out.parent
    assert elapsed < 30, f"conversion took {elapsed:.1f} s"
    mtime = os.stat(out).st_mtime_ns
    assert convert_registered(tmp_path) == out
    assert os.stat(out).st_mtime_ns == mtime, "an existing checkpoint was rewritten"
