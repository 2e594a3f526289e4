"""Convert a CTranslate2 Whisper model (faster-whisper's format) into an openai-whisper checkpoint.

The weights ship only in CTranslate2 form; the openai-whisper backend wants `{"dims", "model_state_dict"}`
as written by `torch.save`. `model.bin` is parsed here directly (no ctranslate2 import needed), following
`ctranslate2.specs.model_spec.ModelSpec._serialize`:

    u32 binary version (<= 6)
    [version >= 2] string spec name ("WhisperSpec"), u32 spec revision
    u32 variable count, then per variable:
        string name, u8 rank, u32 * rank shape,
        [version >= 4] u8 dtype id, u32 byte count  (ids: float32 int8 int16 int32 float16 bfloat16)
        [version <  4] u8 item size, u32 element count
        raw little-endian bytes
    [version >= 3] u32 alias count, then per alias: string alias, string target variable

where a string is a u16 length (including the trailing NUL), the UTF-8 bytes and a NUL. Variables are
sorted by name; quantized weights carry a sibling `<name>_scale` (int8: one scale per output row).

Layout notes (checked against the ctranslate2 converters and by comparing outputs): CTranslate2 keeps
PyTorch's `[out, in]` linear and `[out, in, k]` conv layouts, does not pre-scale queries, fuses the
self-attention q/k/v into one linear and the cross-attention k/v into another, and fills the missing key
bias with zeros (a key bias shifts every logit of a query by the same amount, so dropping it is exact).
The output projection is an alias of the token embedding, as in Whisper.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from models.base import EngineError
from models.files import atomic_path

_DTYPES: dict[int, str] = {0: "float32", 1: "int8", 2: "int16", 3: "int32", 4: "float16", 5: "bfloat16"}
_ITEM_SIZE_DTYPES: dict[int, str] = {4: "float32", 2: "int16", 1: "int8"}  # binary versions < 4
_MAX_BINARY_VERSION = 6
_DEFAULT_AUDIO_CTX = 1500  # 30 s of audio after the stride-2 conv; every released Whisper uses it

# Scalars a Whisper spec carries, and the values the openai-whisper architecture implies.
_EXPECTED_SCALARS: dict[str, int] = {
    "decoder/activation": 3,  # GELU
    "decoder/pre_norm": 1,
    "decoder/scale_embeddings": 0,
    "decoder/alibi": 0,
    "decoder/start_from_zero_embedding": 0,
}
_IGNORED_SCALARS = {
    "decoder/alignment_heads",
    "decoder/alignment_layer",
    "decoder/num_heads",
    "encoder/num_heads",
}


class ConversionError(EngineError):
    """The CTranslate2 model cannot be read or has no openai-whisper equivalent."""


@dataclass(frozen=True)
class Ct2Model:
    """The parsed contents of a CTranslate2 `model.bin`."""

    binary_version: int
    spec_name: str
    spec_revision: int
    variables: dict[str, np.ndarray]  # dequantized where a `_scale` sibling exists; scalars are 0-d
    aliases: dict[str, str]  # alias name -> variable name


class _Reader:
    def __init__(self, data: memoryview, path: Path) -> None:
        self.data = data
        self.pos = 0
        self.path = path

    def unpack(self, fmt: str) -> int:
        size = struct.calcsize("<" + fmt)
        if self.pos + size > len(self.data):
            raise ConversionError(f"{self.path}: truncated CTranslate2 model (at byte {self.pos})")
        (value,) = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += size
        return int(value)

    def string(self) -> str:
        n = self.unpack("H")
        raw = bytes(self.data[self.pos : self.pos + n])
        if len(raw) != n or not raw.endswith(b"\0"):
            raise ConversionError(f"{self.path}: malformed string at byte {self.pos}")
        self.pos += n
        return raw[:-1].decode("utf-8")

    def array(self, dtype: str, shape: tuple[int, ...], num_bytes: int) -> np.ndarray:
        if self.pos + num_bytes > len(self.data):
            raise ConversionError(f"{self.path}: truncated CTranslate2 model (variable at byte {self.pos})")
        raw = self.data[self.pos : self.pos + num_bytes]
        self.pos += num_bytes
        if dtype == "bfloat16":
            bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            arr = bits.view(np.float32)
        else:
            arr = np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<")).copy()
        expected = int(np.prod(shape)) if shape else 1
        if arr.size != expected:
            raise ConversionError(f"{self.path}: variable of shape {shape} holds {arr.size} values")
        return arr.reshape(shape)


def read_ct2_model(model_bin: Path) -> Ct2Model:
    """Parse a CTranslate2 `model.bin` into numpy arrays (int8/int16 weights dequantized to float32)."""
    raw_vars: dict[str, np.ndarray] = {}
    aliases: dict[str, str] = {}
    with open(model_bin, "rb") as f:
        data = memoryview(f.read())
    r = _Reader(data, model_bin)
    version = r.unpack("I")
    if not 1 <= version <= _MAX_BINARY_VERSION:
        raise ConversionError(
            f"{model_bin}: CTranslate2 binary version {version} is not supported (1..{_MAX_BINARY_VERSION})"
        )
    spec_name, revision = "", 1
    if version >= 2:
        spec_name = r.string()
        revision = r.unpack("I")
    for _ in range(r.unpack("I")):
        name = r.string()
        shape = tuple(r.unpack("I") for _ in range(r.unpack("B")))
        if version >= 4:
            type_id = r.unpack("B")
            if type_id not in _DTYPES:
                raise ConversionError(f"{model_bin}: variable {name} has unknown dtype id {type_id}")
            dtype = _DTYPES[type_id]
            num_bytes = r.unpack("I")
        else:
            item_size = r.unpack("B")
            if item_size not in _ITEM_SIZE_DTYPES:
                raise ConversionError(f"{model_bin}: variable {name} has unknown item size {item_size}")
            dtype = _ITEM_SIZE_DTYPES[item_size]
            num_bytes = r.unpack("I") * item_size
        raw_vars[name] = r.array(dtype, shape, num_bytes)
    if version >= 3:
        for _ in range(r.unpack("I")):
            alias = r.string()
            aliases[alias] = r.string()
    if r.pos != len(data):
        raise ConversionError(f"{model_bin}: {len(data) - r.pos} unexpected trailing bytes")
    return Ct2Model(version, spec_name, revision, _dequantize(raw_vars, model_bin), aliases)


def _dequantize(raw: dict[str, np.ndarray], path: Path) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for name, value in raw.items():
        if name.endswith("_scale") and name[: -len("_scale")] in raw:
            continue
        if name.endswith("_zero") and name[: -len("_zero")] in raw:
            raise ConversionError(f"{path}: {name}: AWQ-quantized weights are not supported")
        scale = raw.get(name + "_scale")
        if scale is not None:
            w = value.astype(np.float32)
            s = scale.astype(np.float32)
            if s.ndim == 0:  # int16: one scale for the whole tensor
                value = w / s
            else:  # int8: one scale per output row (conv weights flattened to 2-D first)
                value = w / s.reshape((-1,) + (1,) * (w.ndim - 1))
        out[name] = value
    return out


def _sinusoids(length: int, channels: int) -> np.ndarray:
    """Whisper's encoder position table (whisper.model.sinusoids)."""
    increment = np.log(10000) / (channels // 2 - 1)
    inv = np.exp(-increment * np.arange(channels // 2, dtype=np.float64))
    t = np.arange(length, dtype=np.float64)[:, None] * inv[None, :]
    return np.concatenate([np.sin(t), np.cos(t)], axis=1).astype(np.float32)


def _scalar(model: Ct2Model, name: str) -> int:
    v = model.variables.get(name)
    if v is None or v.ndim != 0:
        raise ConversionError(f"CTranslate2 model lacks the scalar {name}")
    return int(v)


def _count_layers(variables: dict[str, np.ndarray], prefix: str) -> int:
    n = 0
    while any(k.startswith(f"{prefix}/layer_{n}/") for k in variables):
        n += 1
    return n


def _alignment_heads_dump(heads: list[list[int]], n_layer: int, n_head: int) -> str:
    """The heads in openai-whisper's `set_alignment_heads` format (base85 of gzipped bool mask)."""
    mask = np.zeros((n_layer, n_head), dtype=bool)
    for layer, head in heads:
        mask[layer, head] = True
    return base64.b85encode(gzip.compress(mask.tobytes(), mtime=0)).decode("ascii")


def ct2_to_state_dict(
    model: Ct2Model, alignment_heads: list[list[int]] | None = None
) -> tuple[dict[str, int], dict[str, np.ndarray], str | None]:
    """(whisper dims, whisper state dict as numpy arrays, alignment-heads dump or None)."""
    if model.spec_name not in ("WhisperSpec", ""):
        raise ConversionError(f"not a Whisper model: CTranslate2 spec is {model.spec_name!r}")
    v = model.variables
    used: set[str] = set()

    def get(name: str) -> np.ndarray:
        target = model.aliases.get(name, name)
        if target not in v:
            raise ConversionError(f"CTranslate2 Whisper model lacks {name}")
        used.add(target)
        return v[target]

    for name, expected in _EXPECTED_SCALARS.items():
        if name in v:
            got = _scalar(model, name)
            used.add(name)
            if got != expected:
                raise ConversionError(f"{name} is {got}; openai-whisper needs {expected}")
    used.update(n for n in _IGNORED_SCALARS if n in v)

    n_audio_layer = _count_layers(v, "encoder")
    n_text_layer = _count_layers(v, "decoder")
    conv1 = get("encoder/conv1/weight")
    tok = get("decoder/embeddings/weight")
    if "encoder/position_encodings/encodings" in v:
        enc_pos = get("encoder/position_encodings/encodings")
    else:  # optional in ct2, which then generates the same sinusoids Whisper uses
        enc_pos = _sinusoids(_DEFAULT_AUDIO_CTX, int(conv1.shape[0]))
    dec_pos = get("decoder/position_encodings/encodings")
    dims = {
        "n_mels": int(conv1.shape[1]),
        "n_audio_ctx": int(enc_pos.shape[0]),
        "n_audio_state": int(enc_pos.shape[1]),
        "n_audio_head": _scalar(model, "encoder/num_heads"),
        "n_audio_layer": n_audio_layer,
        "n_vocab": int(tok.shape[0]),
        "n_text_ctx": int(dec_pos.shape[0]),
        "n_text_state": int(tok.shape[1]),
        "n_text_head": _scalar(model, "decoder/num_heads"),
        "n_text_layer": n_text_layer,
    }
    if not n_audio_layer or not n_text_layer:
        raise ConversionError("CTranslate2 Whisper model has no encoder or decoder layers")

    # Whisper ties the output projection to the token embedding.
    proj = get("decoder/projection/weight")
    if proj is not tok and not np.array_equal(proj, tok):
        raise ConversionError("decoder projection differs from the token embedding; Whisper ties them")
    if "decoder/projection/bias" in v:
        if np.any(get("decoder/projection/bias")):
            raise ConversionError("decoder projection has a bias; openai-whisper has none")

    sd: dict[str, np.ndarray] = {}

    def bias_of(src: str, rows: int) -> np.ndarray:
        if model.aliases.get(f"{src}/bias", f"{src}/bias") in v:
            return get(f"{src}/bias")
        return np.zeros(rows, dtype=get(f"{src}/weight").dtype)  # ct2 biases are optional

    def linear(dst: str, src: str) -> None:
        w = sd[f"{dst}.weight"] = get(f"{src}/weight")
        sd[f"{dst}.bias"] = bias_of(src, w.shape[0])

    def norm(dst: str, src: str) -> None:
        sd[f"{dst}.weight"] = get(f"{src}/gamma")
        sd[f"{dst}.bias"] = get(f"{src}/beta")

    def split(src: str, parts: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
        w = get(f"{src}/weight")
        b = bias_of(src, w.shape[0])
        if w.shape[0] % parts or b.shape[0] != w.shape[0]:
            raise ConversionError(f"{src}: cannot split a {w.shape} weight into {parts}")
        return np.split(w, parts, axis=0), np.split(b, parts, axis=0)

    def attention(dst: str, src: str, fused_qkv: bool) -> None:
        if fused_qkv:
            (wq, wk, wv), (bq, bk, bv) = split(f"{src}/linear_0", 3)
            out = f"{src}/linear_1"
        else:
            wq = get(f"{src}/linear_0/weight")
            bq = bias_of(f"{src}/linear_0", wq.shape[0])
            (wk, wv), (bk, bv) = split(f"{src}/linear_1", 2)
            out = f"{src}/linear_2"
        sd[f"{dst}.query.weight"], sd[f"{dst}.query.bias"] = wq, bq
        sd[f"{dst}.key.weight"] = wk  # whisper's key has no bias; ct2 stores zeros (and it cancels anyway)
        sd[f"{dst}.value.weight"], sd[f"{dst}.value.bias"] = wv, bv
        linear(f"{dst}.out", out)
        if f"{src}/queries_scale" in v:
            raise ConversionError(f"{src}: pre-scaled queries are not supported")

    for conv in ("conv1", "conv2"):
        linear(f"encoder.{conv}", f"encoder/{conv}")
    sd["encoder.positional_embedding"] = enc_pos
    for i in range(n_audio_layer):
        src, dst = f"encoder/layer_{i}", f"encoder.blocks.{i}"
        attention(f"{dst}.attn", f"{src}/self_attention", fused_qkv=True)
        norm(f"{dst}.attn_ln", f"{src}/self_attention/layer_norm")
        linear(f"{dst}.mlp.0", f"{src}/ffn/linear_0")
        linear(f"{dst}.mlp.2", f"{src}/ffn/linear_1")
        norm(f"{dst}.mlp_ln", f"{src}/ffn/layer_norm")
    norm("encoder.ln_post", "encoder/layer_norm")

    sd["decoder.token_embedding.weight"] = tok
    sd["decoder.positional_embedding"] = dec_pos
    for i in range(n_text_layer):
        src, dst = f"decoder/layer_{i}", f"decoder.blocks.{i}"
        attention(f"{dst}.attn", f"{src}/self_attention", fused_qkv=True)
        norm(f"{dst}.attn_ln", f"{src}/self_attention/layer_norm")
        attention(f"{dst}.cross_attn", f"{src}/attention", fused_qkv=False)
        norm(f"{dst}.cross_attn_ln", f"{src}/attention/layer_norm")
        linear(f"{dst}.mlp.0", f"{src}/ffn/linear_0")
        linear(f"{dst}.mlp.2", f"{src}/ffn/linear_1")
        norm(f"{dst}.mlp_ln", f"{src}/ffn/layer_norm")
    norm("decoder.ln", "decoder/layer_norm")

    # Newer ct2 versions add feature flags (e.g. decoder/scale_alibi); one that is off changes nothing.
    for prefix, state in (("encoder", dims["n_audio_state"]), ("decoder", dims["n_text_state"])):
        hidden = get(f"{prefix}/layer_0/ffn/linear_0/weight").shape[0]
        if hidden != 4 * state:
            raise ConversionError(f"{prefix} MLP width is {hidden}; openai-whisper fixes it at 4 x {state}")

    unused = sorted(n for n in set(v) - used if not (v[n].ndim == 0 and not v[n].item()))
    if unused:
        raise ConversionError(f"CTranslate2 variables with no openai-whisper equivalent: {', '.join(unused)}")

    dump = _alignment_heads_dump(alignment_heads, n_text_layer, dims["n_text_head"]) if alignment_heads else None
    return dims, sd, dump


def convert_ct2_to_openai(ct2_dir: Path, out_file: Path) -> Path:
    """Write an openai-whisper checkpoint for the CTranslate2 Whisper model in `ct2_dir`; returns out_file.

    Tensors keep the source precision (float16 stays float16, as in OpenAI's own checkpoints; quantized
    weights become float32). The checkpoint also carries `alignment_heads` (openai-whisper's dump format)
    from ct2's config.json, which `OpenAIWhisperASR` applies; `whisper.load_model` ignores the extra key.
    """
    import torch

    ct2_dir, out_file = Path(ct2_dir), Path(out_file)
    model_bin = ct2_dir / "model.bin"
    if not model_bin.is_file():
        raise ConversionError(f"{model_bin} is missing; is {ct2_dir} a CTranslate2 Whisper model folder?")
    heads: list[list[int]] | None = None
    config = ct2_dir / "config.json"
    if config.is_file():
        raw_heads = json.loads(config.read_text()).get("alignment_heads")
        if raw_heads:
            heads = [[int(layer), int(head)] for layer, head in raw_heads]

    dims, sd, dump = ct2_to_state_dict(read_ct2_model(model_bin), heads)
    checkpoint: dict[str, Any] = {
        "dims": dims,
        "model_state_dict": {k: torch.from_numpy(np.ascontiguousarray(a)) for k, a in sd.items()},
    }
    if dump is not None:
        checkpoint["alignment_heads"] = dump

    with atomic_path(out_file, suffix=".tmp") as tmp, open(tmp, "wb") as f:
        torch.save(checkpoint, f)
        f.flush()
        os.fsync(f.fileno())
    return out_file


def convert_registered(model_dir: Path | None = None, force: bool = False) -> Path:
    """Convert registry `whisper-base-ct2` into `<model_dir>/whisper-base-pt/base.pt` (kept if present)."""
    from models import registry

    spec = registry.SPECS["whisper-base-pt"]
    out = registry.model_path(spec.id, model_dir) / spec.main_file
    if out.is_file() and not force:
        return out
    return convert_ct2_to_openai(registry.require(spec.derived_from, model_dir), out)
