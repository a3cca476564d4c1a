"""Whether a turn's call blocks follow the call grammar, and how."""

from __future__ import annotations

from asynclm_tui.core.backends.base import Backend
from asynclm_tui.core.cml.constrain import ToolShape, tool_shape
from asynclm_tui.core.decode.jump_forward import jump_forward_on
from asynclm_tui.core.settings.config import GenerationSettings
from asynclm_tui.core.tools.registry import ToolRegistry

SMALL_MODEL_PARAMS = 3_000_000_000
"""Below this size ``constrain_calls`` defaults to on."""


def constrain_calls(backend: Backend, gen: GenerationSettings) -> bool:
    """Whether call blocks are sampled under the grammar: as set, else for
    small models (never over a server: it sends no logits to mask)."""
    if not backend.info.has_logits:
        return False
    if gen.constrain_calls is not None:
        return gen.constrain_calls
    return backend.info.n_params < SMALL_MODEL_PARAMS


def drafts_on(backend: Backend, gen: GenerationSettings, jump: bool) -> bool:
    """Whether call text is drafted and checked (``draft_calls``): as set,
    else with jump-forward; only where the backend can check a batch."""
    wanted = gen.draft_calls if gen.draft_calls is not None else jump
    return wanted and backend.info.verifies


def call_grammar(
    backend: Backend, gen: GenerationSettings, registry: ToolRegistry
) -> tuple[bool, bool, dict[str, ToolShape] | None]:
    """Masking on, jump-forward on, and the tools' grammars (None when
    neither needs them)."""
    mask = constrain_calls(backend, gen)
    jump = jump_forward_on(gen.jump_forward, mask=mask, has_logits=backend.info.has_logits)
    shapes = None
    if mask or jump:
        shapes = {name: tool_shape(spec.parameters) for name, spec in registry.tools.items()}
    return mask, jump, shapes
