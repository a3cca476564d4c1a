"""Generators: BFCL ``parallel`` and ``parallel_multiple`` tasks, as
``asynclm bench bfcl --driver model`` prompts them (their functions only, the
compact prompt, mostly with the benchmark's answer key), from index 100 on
(the first 100 stay out, for the benchmark).

``bfcl``: the async engine's timing (every call issued first, LPT on the
prompt's estimates, results landing as they come); ``bfcl_sync``: the sync
strategy's (each result right after its call, decoding waiting for it), so
the model learns to go on with the calls still to make after a result.
"""

from __future__ import annotations

from asynclm_tui.core.cml.prompt import launch_system_prompt
from asynclm_tui.core.cml.syntax import format_interrupt
from asynclm_tui.lab.tasks.bfcl_prompt import cheat_sheet
from asynclm_tui.lab.tasks.toolsets import PROMPT_STYLE
from asynclm_tui.lab.train.example import Context, Example, assemble
from asynclm_tui.lab.train.simulate import IdMaker, Simulator, render_call

CHEAT_SHEET_SHARE = 0.7
"""BFCL examples whose system prompt carries the answer key, as ``bench bfcl
--driver model`` writes it."""


def bfcl_task(ctx: Context, index: int, *, sync: bool = False) -> Example | None:
    """One BFCL task played under the async (or sync) strategy's timing."""
    from asynclm_tui.lab.tasks.bfcl_tools import TaskTools
    from asynclm_tui.lab.tasks.latency import LatencyModel
    from asynclm_tui.lab.tasks.oracle import answer_text

    if not ctx.bfcl:
        return None
    rng = ctx.rng
    task = rng.choice(ctx.bfcl)
    tools = TaskTools(task, LatencyModel(rng.randrange(10_000)), strict_schemas=True)
    reg = tools.registry()
    # as the benchmark prompts it: the answer key in the system prompt (the
    # paper's setup), and without it sometimes, as a user would ask
    sheet = cheat_sheet(task) if rng.random() < CHEAT_SHEET_SHARE else ""
    system = launch_system_prompt(reg.tools, sheet, style=PROMPT_STYLE)
    durations = tools.durations()
    sim = Simulator(ctx.tok, rng)
    sim.on_event = lambda kind, payload: format_interrupt(payload[0], payload[1])
    ids = IdMaker()
    estimates = [reg.tools[c.name].estimated_ms for c in task.calls]
    order = (
        range(len(task.calls))
        if sync
        else sorted(range(len(task.calls)), key=lambda i: -estimates[i])
    )  # LPT on what the prompt says (ties keep the asked order)
    for i in order:
        call = task.calls[i]
        cid = ids(call.name)
        sim.write(render_call(cid, call.name, call.args, dict(call.kwargs)), block=True)
        value = tools.execute(call.group, call.name, dict(call.kwargs))
        if sync:
            sim.schedule(sim.clock, "result", (cid, value))
            sim.flush()
        else:
            sim.schedule(sim.clock + durations[i], "result", (cid, value))
    while sim.pending:
        sim.trap()
    sim.write(answer_text(task))
    sim.end()
    messages = [{"role": "system", "content": system}, {"role": "user", "content": task.prompt}]
    kind = "bfcl_sync" if sync else "bfcl"
    return assemble(ctx.tok, messages, sim, f"{kind}-{task.id}-{index}", kind)


def bfcl(ctx: Context, index: int) -> Example | None:
    """Generator: a BFCL task, async timing."""
    return bfcl_task(ctx, index)


def bfcl_sync(ctx: Context, index: int) -> Example | None:
    """Generator: a BFCL task, sync timing."""
    return bfcl_task(ctx, index, sync=True)
