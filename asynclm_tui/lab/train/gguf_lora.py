"""Write a LoRA adapter as a GGUF file that llama.cpp loads (``lora_path``).

The layout is what llama.cpp's ``convert_lora_to_gguf.py`` writes and
``llama_adapter_lora_init`` checks: ``general.type = adapter``,
``adapter.type = lora``, ``adapter.lora.alpha``, and for each adapted base
tensor ``NAME.lora_a`` (numpy shape ``(rank, n_in)``) and ``NAME.lora_b``
(``(n_out, rank)``).  llama.cpp scales the product by ``alpha / rank``.

Hugging Face names map to GGUF names here, including the row permutation the
llama converter applies to the query and key projections (transformers undoes
it when it reads a GGUF, so an adapter trained there is in Hugging Face order).
Needs the ``gguf`` package (the ``train`` and ``test`` extras), not torch.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float32]

HF_TO_GGUF = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
"""Llama-family module paths (inside ``model.layers.N``) and their GGUF tensor stems."""

_HF_LAYER = re.compile(r"(?:^|\.)layers\.(\d+)\.(.+)$")


class AdapterExportError(Exception):
    """A tensor cannot be placed in the adapter (unknown module, bad shape)."""


@dataclass(frozen=True)
class Heads:
    """Attention head counts, for the query/key row permutation."""

    n_head: int
    n_head_kv: int


def gguf_tensor_name(hf_module: str) -> tuple[str, str]:
    """``model.layers.3.self_attn.q_proj`` -> (``blk.3.attn_q.weight``, ``attn_q``).

    Raises:
        AdapterExportError: not a module llama.cpp can adapt in a llama model.
    """
    match = _HF_LAYER.search(hf_module)
    if match is None or match.group(2) not in HF_TO_GGUF:
        raise AdapterExportError(f"no GGUF tensor for module {hf_module!r}")
    stem = HF_TO_GGUF[match.group(2)]
    return f"blk.{match.group(1)}.{stem}.weight", stem


def permute_rows(rows: Array, n_head: int) -> Array:
    """The llama converter's q/k permutation (rotary halves interleaved), on rows."""
    out = rows.reshape(n_head, 2, rows.shape[0] // n_head // 2, *rows.shape[1:])
    return np.ascontiguousarray(out.swapaxes(1, 2).reshape(rows.shape))


def to_gguf_pairs(
    hf_pairs: Mapping[str, tuple[Array, Array]], heads: Heads
) -> dict[str, tuple[Array, Array]]:
    """Hugging Face ``module -> (A, B)`` to GGUF ``tensor -> (A, B)``.

    ``A`` is ``lora_A.weight`` (``(rank, n_in)``), ``B`` is ``lora_B.weight``
    (``(n_out, rank)``); ``B``'s rows are permuted for the query and key projections.
    """
    out: dict[str, tuple[Array, Array]] = {}
    for module, (a, b) in hf_pairs.items():
        name, stem = gguf_tensor_name(module)
        if stem == "attn_q":
            b = permute_rows(b, heads.n_head)
        elif stem == "attn_k":
            b = permute_rows(b, heads.n_head_kv)
        out[name] = (a, b)
    return out


def write_lora_gguf(
    path: Path,
    pairs: Mapping[str, tuple[Array, Array]],
    *,
    alpha: float,
    architecture: str = "llama",
    metadata: Mapping[str, str] | None = None,
) -> None:
    """Write ``pairs`` (GGUF base tensor name -> (A, B)) as an f16 adapter file.

    ``metadata`` goes in as string keys (``asynclm.*``: what the adapter was
    trained for), which :func:`read_adapter_metadata` gives back.

    Raises:
        AdapterExportError: A and B ranks disagree, or nothing to write.
    """
    import gguf

    if not pairs:
        raise AdapterExportError("the adapter has no tensors")
    writer = gguf.GGUFWriter(str(path), architecture)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(alpha))
    for key, value in (metadata or {}).items():
        writer.add_string(key, value)
    for name, (a, b) in sorted(pairs.items()):
        if a.ndim != 2 or b.ndim != 2 or a.shape[0] != b.shape[1]:
            raise AdapterExportError(
                f"{name}: lora_a {a.shape} and lora_b {b.shape} do not share a rank"
            )
        writer.add_tensor(f"{name}.lora_a", np.ascontiguousarray(a, dtype=np.float16))
        writer.add_tensor(f"{name}.lora_b", np.ascontiguousarray(b, dtype=np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def read_adapter_metadata(path: Path) -> dict[str, str]:
    """The string keys of an adapter file (``general.type``, ``asynclm.*``...)."""
    import gguf

    reader = gguf.GGUFReader(str(path))
    out: dict[str, str] = {}
    for key, field in reader.fields.items():
        if field.types and field.types[0] == gguf.GGUFValueType.STRING:
            out[key] = str(field.contents())
    return out
