"""In-process llama.cpp through llama-cpp-python's token-level API.

This is the only module that imports ``llama_cpp``.  It uses ``Llama.eval``
to append tokens to the live KV cache and a persistent sampler chain for the
turn, exactly as ``Llama.generate`` does internally, so an interrupt costs only
its own tokens.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asynclm_tui.core.backends.base import (
    AppendStats,
    BackendInfo,
    ProgressFn,
    SamplingParams,
)

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt


class ModelLoadError(Exception):
    """The model file is missing or llama.cpp could not load it."""


_PATCH_LOCK = threading.Lock()


def amx_repack_broken() -> bool:
    """Whether llama.cpp's AMX weight repacking must be avoided on this CPU.

    Measured in a sandboxed Xeon with ``amx_int8``: any batch of more than one
    token segfaulted inside ``llama_decode`` while the repacked (AMX) weight
    buffers were in use, and ran fine with them off.  Off costs little for
    the small models this is seen with, so it is off wherever AMX is listed.
    """
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return False
    return "amx_int8" in cpuinfo


@contextlib.contextmanager
def model_params_hook(llama_cpp: Any, progress: ProgressFn | None = None) -> Iterator[None]:
    """Adjust ``llama_model_params`` for the duration of ``Llama(...)``.

    llama-cpp-python builds them inside ``Llama.__init__`` and exposes neither
    a progress argument nor ``use_extra_bufts``, so the default-params factory
    is wrapped briefly (under a lock) to set llama.cpp's own
    ``progress_callback`` and to turn AMX repacking off (:func:`amx_repack_broken`).
    """
    no_repack = amx_repack_broken()
    if progress is None and not no_repack:
        yield
        return
    lib = llama_cpp.llama_cpp

    @llama_cpp.llama_progress_callback  # type: ignore[untyped-decorator]
    def callback(value: float, _user: Any) -> bool:
        if progress is not None:
            progress(float(value))
        return True

    original = lib.llama_model_default_params

    def params() -> Any:
        p = original()
        if progress is not None:
            p.progress_callback = callback
        if no_repack:
            p.use_extra_bufts = False
        return p

    with _PATCH_LOCK:
        lib.llama_model_default_params = params
        try:
            yield
        finally:
            lib.llama_model_default_params = original


def import_llama_cpp() -> Any:
    """Import llama_cpp, making sure its native libraries load before numpy.

    On a CUDA build we saw llama.cpp's tokenizer segfault during model load
    whenever numpy had been imported first (numpy's bundled libraries bound
    first), so the core imports numpy only after this function ran.

    OpenMP's wait policy is left to the user on purpose.  Measured on 2 idle
    cores: 116 tok/s with the default (spin, then sleep) against 21 tok/s with
    ``OMP_WAIT_POLICY=PASSIVE``; but with two busy processes on those cores the
    default collapsed to 0.4 tok/s while PASSIVE kept 26-51.  Set it yourself on
    an oversubscribed machine (README, "Performance notes").
    """
    import llama_cpp

    return llama_cpp


def default_threads() -> int:
    """One thread per CPU, at most 8.

    Measured on a 16-CPU machine with the 135M model: 52 tok/s with 4
    threads, 49 with 8, 35 with 16; synchronising many threads costs more than
    they add, while larger (memory-bound) models still gain up to about 8.
    """
    return max(1, min(os.cpu_count() or 1, 8))


def gpu_offload_supported() -> bool:
    """Whether this llama-cpp-python build can offload layers to a GPU."""
    return bool(import_llama_cpp().llama_supports_gpu_offload())


class LlamaCppBackend:
    """A GGUF model loaded in-process; owned by one thread (the decoder's)."""

    def __init__(
        self,
        path: Path,
        *,
        n_ctx: int = 4096,
        n_gpu_layers: int | None = None,
        n_threads: int | None = None,
        n_batch: int = 512,
        seed: int = 0,
        progress: ProgressFn | None = None,
    ) -> None:
        if not path.is_file():
            raise ModelLoadError(f"model file not found: {path}")
        llama_cpp = import_llama_cpp()

        self._lib = llama_cpp
        gpu = bool(llama_cpp.llama_supports_gpu_offload())
        layers = n_gpu_layers if n_gpu_layers is not None else (-1 if gpu else 0)
        try:
            with model_params_hook(llama_cpp, progress):
                self.llm = llama_cpp.Llama(
                    model_path=str(path),
                    n_ctx=n_ctx,
                    n_gpu_layers=layers,
                    n_threads=n_threads or default_threads(),
                    n_batch=n_batch,
                    seed=seed,
                    verbose=False,
                )
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelLoadError(f"cannot load {path}: {exc}") from None
        model = self.llm._model.model
        n_layers = int(llama_cpp.llama_model_n_layer(model))
        offloaded = 0 if not gpu else (n_layers + 1 if layers < 0 else min(layers, n_layers + 1))
        self.info = BackendInfo(
            model=path.name,
            n_ctx=self.llm.n_ctx(),
            n_params=int(llama_cpp.llama_model_n_params(model)),
            n_layers=n_layers,
            n_gpu_layers=offloaded,
            gpu_available=gpu,
            n_threads=self.llm.n_threads,
            extra={
                "path": str(path),
                "system": llama_cpp.llama_print_system_info().decode(errors="replace"),
            },
        )
        self._n_vocab = int(self.llm.n_vocab())
        import numpy  # after llama_cpp, see import_llama_cpp

        self._as_array = numpy.ctypeslib.as_array
        self._sampler: Any = None
        self._eos = self._find_eos()
        self._template = self.llm.metadata.get("tokenizer.chat_template")
        self._formatter: Any = None
        self._pieces: dict[int, bytes] = {}
        self._last_append = AppendStats(0, 0)

    # ------------------------------------------------------------- tokens

    @property
    def n_past(self) -> int:
        return int(self.llm.n_tokens)

    @property
    def tokens(self) -> Sequence[int]:
        return self.llm.input_ids[: self.llm.n_tokens].tolist()  # type: ignore[no-any-return]

    @property
    def n_vocab(self) -> int:
        return self._n_vocab

    def _find_eos(self) -> frozenset[int]:
        ids = {int(self.llm.token_eos())}
        eot = int(self._lib.llama_vocab_eot(self.llm._model.vocab))
        if eot >= 0:
            ids.add(eot)
        for tok in range(self._n_vocab):
            if self._lib.llama_vocab_is_eog(self.llm._model.vocab, tok):
                ids.add(tok)
        return frozenset(t for t in ids if t >= 0)

    def eos_tokens(self) -> frozenset[int]:
        return self._eos

    def tokenize(self, text: str, *, special: bool = False) -> list[int]:
        return list(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=special))

    def piece(self, token: int) -> bytes:
        cached = self._pieces.get(token)
        if cached is None:
            vocab = self.llm._model.vocab
            buf = ctypes.create_string_buffer(64)
            n = self._lib.llama_token_to_piece(vocab, token, buf, 64, 0, False)
            if n < 0:  # buffer too small: llama.cpp returns the size needed
                buf = ctypes.create_string_buffer(-n)
                n = self._lib.llama_token_to_piece(vocab, token, buf, -n, 0, False)
            cached = self._pieces[token] = buf.raw[:n]
        return cached

    def render_chat(self, messages: Sequence[dict[str, str]]) -> str:
        if self._formatter is None:
            if not self._template:
                raise ModelLoadError(
                    f"{self.info.model} has no chat template (tokenizer.chat_template)"
                )
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            model = self.llm._model
            bos = model.token_get_text(self.llm.token_bos()) if self.llm.token_bos() >= 0 else ""
            eos = model.token_get_text(self.llm.token_eos())
            self._formatter = Jinja2ChatFormatter(self._template, eos_token=eos, bos_token=bos)
        return str(self._formatter(messages=list(messages)).prompt)  # type: ignore[arg-type]

    # ------------------------------------------------------------- KV cache

    def truncate(self, n: int) -> None:
        if n < self.llm.n_tokens:
            self.llm._ctx.kv_cache_seq_rm(-1, n, -1)
            self.llm.n_tokens = n

    def append(self, tokens: Sequence[int]) -> None:
        if self.llm.n_tokens + len(tokens) > self.info.n_ctx:
            raise ContextFullError(self.info.n_ctx)
        self._last_append = AppendStats(int(self.llm.n_tokens), len(tokens))
        self.llm.eval(tokens)

    def append_stats(self) -> AppendStats:
        return self._last_append

    def pause(self) -> None:
        """Nothing runs ahead in-process."""

    # ------------------------------------------------------------- sampling

    def start_sampling(self, params: SamplingParams) -> None:
        self.llm.set_seed(params.seed or self._lib.LLAMA_DEFAULT_SEED)
        # The same persistent chain Llama.generate builds for a completion.
        self._sampler = self.llm._init_sampler(
            top_k=params.top_k,
            top_p=params.top_p,
            temp=params.temperature,
            repeat_penalty=params.repeat_penalty,
        )

    def sample(self) -> int:
        if self._sampler is None:
            self.start_sampling(SamplingParams())
        return int(self._sampler.sample(self.llm._ctx, -1))

    def logits(self) -> npt.NDArray[np.float32]:
        ptr = self.llm._ctx.get_logits_ith(-1)
        return self._as_array(ptr, shape=(self._n_vocab,))  # type: ignore[no-any-return]

    def accept(self, token: int) -> None:
        if self._sampler is not None:
            self._sampler.accept(token)

    def close(self) -> None:
        self._sampler = None
        with contextlib.suppress(Exception):
            self.llm.close()


class ContextFullError(Exception):
    """Appending would overflow the context window."""

    def __init__(self, n_ctx: int) -> None:
        super().__init__(f"the context window ({n_ctx} tokens) is full")
