"""Read a GGUF file's hyper-parameters from its header, before llama.cpp loads it.

The context size and thread count must be chosen before ``Llama(...)`` builds
its context, and llama.cpp offers no cheap way to read them first (a
vocabulary-only load costs ~0.2 s and cannot answer ``n_head``).  The header is
a flat list of typed key/value pairs; only scalars are decoded, arrays are
skipped, and reading stops at the tokenizer's keys, which come after the
architecture's in every converter's output.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

_MAGIC = b"GGUF"
# GGUF value types: 0 u8, 1 i8, 2 u16, 3 i16, 4 u32, 5 i32, 6 f32, 7 bool,
# 8 string, 9 array, 10 u64, 11 i64, 12 f64.
_SCALARS: dict[int, str] = {
    0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
    10: "<Q", 11: "<q", 12: "<d",
}  # fmt: skip
_STRING, _ARRAY = 8, 9


class GGUFHeaderError(Exception):
    """The file is not a GGUF file this reader understands."""


@dataclass(frozen=True)
class ModelFacts:
    """What the load plan needs to know about a model file."""

    architecture: str
    n_ctx_train: int
    n_layer: int
    n_embd: int
    n_head: int
    n_head_kv: int
    key_length: int
    value_length: int
    file_size: int

    def kv_bytes_per_token(self, bytes_per_value: float) -> float:
        """KV-cache bytes one token costs (keys and values, every layer)."""
        per_layer = self.n_head_kv * (self.key_length + self.value_length)
        return self.n_layer * per_layer * bytes_per_value


def _read(f: BinaryIO, fmt: str) -> int | float | bool:
    size = struct.calcsize(fmt)
    data = f.read(size)
    if len(data) != size:
        raise GGUFHeaderError("truncated header")
    value: int | float | bool = struct.unpack(fmt, data)[0]
    return value


def _string(f: BinaryIO) -> str:
    n = int(_read(f, "<Q"))
    if n > 1 << 24:
        raise GGUFHeaderError("implausible string length")
    return f.read(n).decode("utf-8", errors="replace")


def _skip(f: BinaryIO, vtype: int) -> None:
    if vtype == _STRING:
        f.seek(int(_read(f, "<Q")), 1)
    elif vtype == _ARRAY:
        etype, count = int(_read(f, "<I")), int(_read(f, "<Q"))
        if etype in _SCALARS:
            f.seek(struct.calcsize(_SCALARS[etype]) * count, 1)
        else:
            for _ in range(count):
                _skip(f, etype)
    elif vtype in _SCALARS:
        f.seek(struct.calcsize(_SCALARS[vtype]), 1)
    else:
        raise GGUFHeaderError(f"unknown value type {vtype}")


def read_scalars(path: Path, *, stop_prefix: str = "tokenizer.") -> dict[str, object]:
    """Scalar and string metadata up to the first key starting with ``stop_prefix``.

    Raises:
        GGUFHeaderError: not a GGUF file, or a malformed header.
        OSError: the file cannot be read.
    """
    out: dict[str, object] = {}
    with path.open("rb") as f:
        if f.read(4) != _MAGIC:
            raise GGUFHeaderError("not a GGUF file (bad magic)")
        version = int(_read(f, "<I"))
        if version < 2:
            raise GGUFHeaderError(f"GGUF version {version} is too old")
        _read(f, "<Q")  # tensor count
        n_kv = int(_read(f, "<Q"))
        for _ in range(n_kv):
            key = _string(f)
            if stop_prefix and key.startswith(stop_prefix):
                break
            vtype = int(_read(f, "<I"))
            if vtype in _SCALARS:
                out[key] = _read(f, _SCALARS[vtype])
            elif vtype == _STRING:
                out[key] = _string(f)
            else:
                _skip(f, vtype)
    return out


def model_facts(path: Path) -> ModelFacts:
    """The architecture's sizes from the header.

    Raises:
        GGUFHeaderError: the header lacks the architecture or its sizes.
        OSError: the file cannot be read.
    """
    meta = read_scalars(path)
    arch = meta.get("general.architecture")
    if not isinstance(arch, str):
        raise GGUFHeaderError("no general.architecture in the header")

    def num(name: str, default: int | None = None) -> int:
        value = meta.get(f"{arch}.{name}", default)
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise GGUFHeaderError(f"no {arch}.{name} in the header")
        return int(value)

    n_embd = num("embedding_length")
    n_head = max(1, num("attention.head_count", 1))
    head_dim = n_embd // n_head
    return ModelFacts(
        architecture=arch,
        n_ctx_train=num("context_length"),
        n_layer=num("block_count"),
        n_embd=n_embd,
        n_head=n_head,
        n_head_kv=num("attention.head_count_kv", n_head),
        key_length=num("attention.key_length", head_dim),
        value_length=num("attention.value_length", head_dim),
        file_size=path.stat().st_size,
    )
