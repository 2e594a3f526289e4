"""llama.cpp through llama-cpp-python: a chat GGUF file, loaded once per worker process, answering greedily.

The registry's default is Qwen2.5-Coder-1.5B-Instruct (Q4_K_M); any chat GGUF an operator provides works
the same way (its chat template comes from the file). The model is loaded lazily, on the first request (or
`load()`), and cached per process, context size and thread count. What to ask it and what to do with its
answers is the pipeline's business (pipeline/text/translation/llm.py).
"""

from __future__ import annotations

import atexit
import importlib.util
import threading
import time
from pathlib import Path
from typing import Any

from models.base import EngineError, EngineUnavailable, GenerationError, ModelInfo
from models.system import cache_forgetter, record_load, register_cache

_MODELS: dict[tuple[str, int, int], Any] = {}
_LOAD_SECONDS: dict[tuple[str, int, int], float] = {}
_LOCK = threading.Lock()
# dropped, not closed: a generation running elsewhere keeps its model until it ends (then llama-cpp frees it)
register_cache("llama.cpp", cache_forgetter(_MODELS, _LOCK))


def runtime_available() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


def default_threads() -> int:
    """The engine threads of models.system.engine_threads (half the cores unless DUBLINE_ENGINE_THREADS)."""
    from models.system import engine_threads

    return engine_threads()


def load_llama(path: Path, n_ctx: int = 2048, n_threads: int = 0) -> Any:
    """The llama_cpp.Llama for a GGUF file, loaded once per process (and per context size / threads)."""
    key = (str(path), n_ctx, n_threads)
    with _LOCK:
        if key in _MODELS:
            return _MODELS[key]
        t0 = time.perf_counter()  # a load is the library's import and the model's construction
        try:
            import llama_cpp
        except ImportError as e:
            raise EngineUnavailable("llama-cpp-python is not installed; run `make setup`") from e
        if not path.is_file():
            raise EngineUnavailable(f"LLM weights {path} are missing; run `dubline models install`")
        threads = n_threads or default_threads()
        try:
            llm = llama_cpp.Llama(
                model_path=str(path),
                n_ctx=n_ctx,
                n_threads=threads,
                n_threads_batch=threads,
                seed=0,
                # read into memory, not mapped: llama.cpp repacks the weights for the CPU, and a mapped file stays
                # resident beside the repacked copy (Qwen2.5 1.5B: 1.83 GiB against 1.24 GiB, the same answers)
                use_mmap=False,
                verbose=False,
            )
        except (ValueError, RuntimeError) as e:
            raise EngineError(f"cannot load the LLM {path}: {e} (is it a GGUF file llama.cpp supports?)") from e
        _LOAD_SECONDS[key] = time.perf_counter() - t0
        record_load("llama.cpp", _LOAD_SECONDS[key])
        if not _MODELS:
            atexit.register(_close_all)
        _MODELS[key] = llm
        return llm


def _close_all() -> None:
    """Free the models before the interpreter tears modules down (llama-cpp-python's own finalizer then
    fails with a TypeError that is printed at exit)."""
    with _LOCK:
        for llm in _MODELS.values():
            close = getattr(llm, "close", None)
            if close is not None:
                close()
        _MODELS.clear()


def load_seconds() -> dict[str, float]:
    """How long each model loaded in this process took to load."""
    return {k[0]: v for k, v in _LOAD_SECONDS.items()}


class LlamaChat:
    """A chat GGUF run by llama-cpp-python (a models.base.ChatModel)."""

    name = "llama.cpp"

    def __init__(
        self,
        model_path: Path,
        model_id: str,
        version: str,
        sha256: str,
        n_ctx: int = 2048,
        n_threads: int = 0,
        llama: Any = None,
    ) -> None:
        self.model_path = Path(model_path)
        self.info = ModelInfo(model_id, version, sha256)
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self._llama = llama  # injected (tests) or loaded on first use

    def available(self) -> bool:
        return self._llama is not None or (self.model_path.is_file() and runtime_available())

    @property
    def llama(self) -> Any:
        """The llama_cpp.Llama: the injected one, else the process's (loaded on first use, and again after
        models.system.forget_engines dropped it; not kept here, or it could not be freed)."""
        if self._llama is not None:
            return self._llama
        return load_llama(self.model_path, self.n_ctx, self.n_threads)

    def load(self) -> None:
        _ = self.llama  # a model that cannot load raises EngineUnavailable / EngineError

    def generate(self, messages: list[dict[str, str]], max_tokens: int, *, stop: list[str] | None = None) -> str:
        """Greedy decoding (temperature 0, top-k 1, no repeat penalty, seed 0): the same messages always get
        the same answer."""
        llama = self.llama
        try:
            result = llama.create_chat_completion(
                messages=messages,
                temperature=0.0,
                top_k=1,
                top_p=1.0,
                repeat_penalty=1.0,
                max_tokens=max_tokens,
                stop=stop,
                seed=0,
            )
        except (ValueError, RuntimeError) as e:  # e.g. the prompt exceeds the context window
            raise GenerationError(str(e)) from e
        content = result["choices"][0]["message"].get("content") or ""
        return str(content)
