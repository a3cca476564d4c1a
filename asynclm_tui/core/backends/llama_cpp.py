"""In-process llama.cpp through llama-cpp-python's token-level API.

This is the only module that imports ``llama_cpp``.  It uses ``Llama.eval``
to append tokens to the live KV cache and a persistent sampler chain for the
turn, exactly as ``Llama.generate`` does internally, so an interrupt costs only
its own tokens.
"""

from __future__ import annotations

import contextlib
import ctypes
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asynclm_tui.core.backends.adapter import (
    LORA_KEY,
    AdapterError,
    adapter_identity,
    check_adapter,
)
from asynclm_tui.core.backends.base import (
    AppendStats,
    BackendInfo,
    ContextFullError,
    ModelLoadError,
    ProgressFn,
    SamplingParams,
)
from asynclm_tui.core.backends.chat_template import ModelVocab, TemplateError, choose_template
from asynclm_tui.core.backends.llama_library import import_llama_cpp
from asynclm_tui.core.backends.llama_log import take_errors
from asynclm_tui.core.backends.load_plan import plan_load
from asynclm_tui.core.backends.thread_governor import Contention, governor_for
from asynclm_tui.core.settings.config import ModelSettings

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt


_PATCH_LOCK = threading.RLock()  # the load hooks nest


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


@contextlib.contextmanager
def lenient_chat_handlers(llama_cpp: Any) -> Iterator[None]:
    """Let ``Llama(...)`` load a GGUF whose chat template does not compile.

    ``Llama.__init__`` compiles every template in the metadata into chat
    handlers this project never uses, and a syntax error there aborts the
    load.  For the duration of the constructor (under the patch lock) a
    template that does not compile gets a stand-in; :mod:`chat_template`
    then judges the real one and falls back with a notice.
    """
    module = llama_cpp.llama_chat_format
    real = module.Jinja2ChatFormatter

    class Lenient(real):  # type: ignore[misc, valid-type]
        def __init__(self, template: str, *args: Any, **kwargs: Any) -> None:
            try:
                super().__init__(template, *args, **kwargs)
            except Exception:  # jinja2 raises many types for a bad template
                super().__init__("", *args, **kwargs)

    with _PATCH_LOCK:
        module.Jinja2ChatFormatter = Lenient
        try:
            yield
        finally:
            module.Jinja2ChatFormatter = real


_KV_TYPES = {"f16": "GGML_TYPE_F16", "q8_0": "GGML_TYPE_Q8_0"}


def _load_problem(path: Path, lora: Path | None, exc: Exception) -> str:
    """One line for a failed ``Llama(...)``: llama.cpp's own reason when it
    refused the adapter (it logs why, and raises a bare "Failed to ...")."""
    if lora is None or "LoRA" not in str(exc):
        take_errors()
        return f"cannot load {path}: {exc}"
    return _adapter_refused(path, lora, str(exc))


def _adapter_refused(path: Path, lora: Path, fallback: str) -> str:
    """llama.cpp's logged reason for refusing ``lora`` (a shape or tensor that
    does not fit the model), as one line naming both files."""
    reasons = [
        e.split("failed to apply lora adapter: ", 1)[-1] for e in take_errors() if "lora" in e
    ]
    reason = reasons[-1] if reasons else fallback
    return f"llama.cpp refused the LoRA adapter {lora} for {path.name}: {reason}"


def _check_adapter_applied(llm: Any, path: Path, lora: Path | None) -> None:
    """Close ``llm`` and raise when llama.cpp refused the adapter.

    llama-cpp-python 0.3.36 tests ``llama_adapter_lora_init``'s result with
    ``is None``, but the binding returns a NULL *pointer* object when llama.cpp
    refuses the file, so the refusal passes silently, a NULL adapter is set on
    the context and the first decode segfaults.

    Raises:
        ModelLoadError: the adapter was refused (llama.cpp's reason included).
    """
    if lora is None or bool(getattr(llm, "_lora_adapter", True)):
        return
    llm._lora_adapter = None  # nothing to free: llama.cpp freed it already
    with contextlib.suppress(Exception):
        llm.close()
    raise ModelLoadError(_adapter_refused(path, lora, "llama_adapter_lora_init returned NULL"))


class LlamaCppBackend:
    """A GGUF model loaded in-process; owned by one thread (the decoder's)."""

    def __init__(
        self,
        path: Path,
        *,
        settings: ModelSettings | None = None,
        progress: ProgressFn | None = None,
        lora: Path | None = None,
    ) -> None:
        """Load ``path`` (with the LoRA adapter ``lora`` applied, if given).

        Raises:
            ModelLoadError: the model or adapter is missing or llama.cpp refuses it.
        """
        if not path.is_file():
            raise ModelLoadError(f"model file not found: {path}")
        cfg = settings or ModelSettings()
        llama_cpp = import_llama_cpp()
        self._lib = llama_cpp
        gpu = bool(llama_cpp.llama_supports_gpu_offload())
        self.plan = plan = plan_load(path, cfg, gpu=gpu)
        if lora is not None:
            try:
                check_adapter(lora, plan.facts.architecture if plan.facts else None)
            except AdapterError as exc:
                raise ModelLoadError(str(exc)) from None
        layers = cfg.n_gpu_layers if cfg.n_gpu_layers is not None else (-1 if gpu else 0)
        # Created before the load, so its first look at the CPU spans it.
        self._governor = governor_for(plan.threads, self._set_threads)
        kv_type = getattr(llama_cpp, _KV_TYPES[plan.kv_type])
        take_errors()  # only this load's errors explain its failure
        try:
            with lenient_chat_handlers(llama_cpp), model_params_hook(llama_cpp, progress):
                self.llm = llama_cpp.Llama(
                    model_path=str(path),
                    n_ctx=plan.n_ctx,
                    n_gpu_layers=layers,
                    n_threads=plan.threads.n_threads,
                    n_threads_batch=plan.threads.n_threads_batch,
                    n_batch=cfg.n_batch,
                    type_k=kv_type,
                    type_v=kv_type,
                    # llama.cpp quantizes the V cache only with flash attention.
                    flash_attn=plan.kv_type != "f16",
                    seed=cfg.seed,
                    # llama_adapter_lora_init, then set on the context (not mmapped then).
                    lora_path=str(lora) if lora is not None else None,
                    verbose=False,
                )
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelLoadError(_load_problem(path, lora, exc)) from None
        _check_adapter_applied(self.llm, path, lora)
        model = self.llm._model.model
        n_layers = int(llama_cpp.llama_model_n_layer(model))
        offloaded = 0 if not gpu else (n_layers + 1 if layers < 0 else min(layers, n_layers + 1))
        self._n_vocab = int(self.llm.n_vocab())
        try:
            self.template = choose_template(cfg.chat_format, self._vocab_view())
        except TemplateError as exc:
            self.llm.close()
            raise ModelLoadError(f"chat template for {path.name}: {exc}") from None
        self.info = BackendInfo(
            model=path.name,
            n_ctx=self.llm.n_ctx(),
            n_params=int(llama_cpp.llama_model_n_params(model)),
            n_layers=n_layers,
            n_gpu_layers=offloaded,
            gpu_available=gpu,
            n_threads=self.llm.n_threads,
            prefill_batch=int(self.llm.n_batch),
            verifies=True,
            extra={
                "path": str(path),
                "system": llama_cpp.llama_print_system_info().decode(errors="replace"),
                "n_threads_batch": plan.threads.n_threads_batch,
                "notice": self.template.choice.notice(),
                LORA_KEY: str(lora) if lora is not None else "",
            },
        )
        stat = path.stat()
        self._identity = "|".join(
            map(
                str,
                (
                    path.resolve(),
                    stat.st_size,
                    stat.st_mtime_ns,
                    self.info.n_ctx,
                    plan.kv_type,
                    cfg.n_batch,
                    llama_cpp.__version__,
                    self.info.extra["system"],
                    adapter_identity(lora),  # an adapter changes every KV entry
                ),
            )
        )
        import numpy  # after llama_cpp, see import_llama_cpp

        self._as_array = numpy.ctypeslib.as_array
        self._sampler: Any = None
        self._row = -1  # the batch index sample() and logits() read
        self._eos = self._find_eos()
        self._pieces: dict[int, bytes] = {}
        self._last_append = AppendStats(0, 0)

    def _vocab_view(self) -> ModelVocab:
        """The model as the chat-template choice sees it."""
        model = self.llm._model
        vocab = model.vocab
        bos_id, eos_id = int(self.llm.token_bos()), int(self.llm.token_eos())

        def is_token(text: str) -> bool:  # one special token, not plain text
            return len(self.tokenize(text, special=True)) == 1 < len(self.tokenize(text))

        meta = self.llm.metadata
        return ModelVocab(
            template=meta.get("tokenizer.chat_template") or None,
            architecture=str(meta.get("general.architecture", "")),
            bos=model.token_get_text(bos_id) if bos_id >= 0 else "",
            eos=model.token_get_text(eos_id) if eos_id >= 0 else "",
            add_bos=bool(self._lib.llama_vocab_get_add_bos(vocab)),
            is_token=is_token,
        )

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
        vocab = self.llm._model.vocab
        ids = {int(self.llm.token_eos()), int(self._lib.llama_vocab_eot(vocab))}
        ids.update(t for t in range(self._n_vocab) if self._lib.llama_vocab_is_eog(vocab, t))
        end = self.template.choice.end_marker
        if end is not None:  # a fallback template's end-of-turn token
            ids.update(self.tokenize(end, special=True))
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
        return self.template.render(messages)

    # ------------------------------------------------------------- KV cache

    def truncate(self, n: int) -> None:
        if n < self.llm.n_tokens:
            self.llm._ctx.kv_cache_seq_rm(-1, n, -1)
            self.llm.n_tokens = n
        self._row = -1

    def append(self, tokens: Sequence[int]) -> None:
        if self.llm.n_tokens + len(tokens) > self.info.n_ctx:
            raise ContextFullError(self.info.n_ctx)
        self._last_append = AppendStats(int(self.llm.n_tokens), len(tokens))
        governor = self._governor
        governor.before_step()  # the threads for this call (the CPU may be busy)
        start = time.perf_counter()
        self._row = -1
        self.llm.eval(tokens)
        governor.after_step(len(tokens), time.perf_counter() - start)

    def append_rows(self, tokens: Sequence[int], keep: Sequence[int]) -> None:
        """One decode call with the logits kept after each ``tokens[i]``,
        ``i`` in ``keep`` (Llama.eval keeps only the last)."""
        llm = self.llm
        n, n_past = len(tokens), int(llm.n_tokens)
        if not 0 < n <= llm.n_batch or not all(0 <= i < n for i in keep):
            raise ValueError(f"append_rows: {n} tokens, rows {list(keep)}")
        if n_past + n > self.info.n_ctx:
            raise ContextFullError(self.info.n_ctx)
        self._last_append = AppendStats(n_past, n)
        self._governor.before_step()
        start = time.perf_counter()
        llm._ctx.kv_cache_seq_rm(-1, n_past, -1)
        # Llama.eval's own steps, with the logits flags set per token.
        llm._batch.set_batch(batch=tokens, n_past=n_past, logits_all=False)
        for i in keep:
            llm._batch.batch.logits[i] = True
        llm._ctx.decode(llm._batch)
        llm.input_ids[n_past : n_past + n] = tokens
        llm.n_tokens = n_past + n
        self._row = -1
        self._governor.after_step(n, time.perf_counter() - start)

    def read_row(self, index: int | None) -> None:
        self._row = -1 if index is None else index

    def _set_threads(self, n_threads: int, n_threads_batch: int) -> None:
        self.llm._ctx.set_n_threads(n_threads, n_threads_batch)

    def take_contention(self) -> Contention:
        """How a busy CPU slowed decoding since the previous call."""
        return self._governor.take_report()

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
        return int(self._sampler.sample(self.llm._ctx, self._row))

    def logits(self) -> npt.NDArray[np.float32]:
        import numpy  # already loaded after llama_cpp (see import_llama_cpp): a dict lookup

        ptr = self.llm._ctx.get_logits_ith(self._row)
        # as_array is typed loosely in some numpy versions: asarray pins the type (no copy).
        return numpy.asarray(self._as_array(ptr, shape=(self._n_vocab,)), dtype=numpy.float32)

    def accept(self, token: int) -> None:
        if self._sampler is not None:
            self._sampler.accept(token)

    def note_forced(self, tokens: Sequence[int]) -> None:
        for token in tokens:  # as if sampled: the repeat penalty sees them
            self.accept(token)

    # ------------------------------------------------------------- saved state

    def state_identity(self) -> str:
        return self._identity

    def save_state(self, path: Path) -> None:
        n = int(self.llm.n_tokens)
        tokens = (self._lib.llama_token * max(n, 1))(*self.llm.input_ids[:n].tolist())
        if not self._lib.llama_state_save_file(self.llm._ctx.ctx, str(path).encode(), tokens, n):
            raise OSError(f"llama.cpp could not write {path}")

    def load_state(self, path: Path, tokens: Sequence[int]) -> bool:
        cap = len(tokens)
        out = (self._lib.llama_token * max(cap, 1))()
        got = ctypes.c_size_t(0)
        ok = self._lib.llama_state_load_file(
            self.llm._ctx.ctx, str(path).encode(), out, cap, ctypes.byref(got)
        )
        if ok and got.value == cap and list(out[:cap]) == list(tokens):
            self.llm.input_ids[:cap] = tokens
            self.llm.n_tokens = cap
            return True
        self.llm._ctx.kv_cache_seq_rm(-1, 0, -1)  # whatever a failed load left
        self.llm.n_tokens = 0
        return False

    def close(self) -> None:
        self._sampler = None
        with contextlib.suppress(Exception):
            self.llm.close()
