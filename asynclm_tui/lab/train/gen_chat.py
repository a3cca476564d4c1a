"""Generator: answers deep in a chat, after earlier exchanges kept as the engine keeps them.

``history``: one to five earlier turns (requests with their calls, results
and answers; failures; chit-chat), each played on the same tool list with
call ids that never repeat in the conversation, then the turn trained on.
Long chats then stay as good as short ones: the model learns that the
earlier ``[INTR]`` blocks are done with, not something to write.
"""

from __future__ import annotations

from asynclm_tui.lab.train.example import Context, Example, example, played
from asynclm_tui.lab.train.gen_tools import Turn, failed_turn, multi_turn, none_turn, single_turn
from asynclm_tui.lab.train.simulate import IdMaker

EARLIER = {"single": single_turn, "multi": multi_turn, "failed": failed_turn, "none": none_turn}
EARLIER_WEIGHTS = {"single": 4, "multi": 2, "failed": 1, "none": 3}
LAST = {"single": single_turn, "multi": multi_turn, "none": none_turn, "failed": failed_turn}
LAST_WEIGHTS = {"single": 4, "multi": 3, "none": 3, "failed": 1}


def history(ctx: Context, index: int) -> Example | None:
    """Generator: a turn after 1-5 earlier ones."""
    rng = ctx.rng
    toolset = ctx.toolset()
    ids = IdMaker()
    messages: list[dict[str, str]] = []
    for _ in range(rng.choice([1, 1, 2, 2, 3, 4, 5])):
        name = rng.choices(list(EARLIER), weights=list(EARLIER_WEIGHTS.values()))[0]
        turn: Turn | None = EARLIER[name](ctx, toolset)
        if turn is None:
            continue
        sim = played(ctx, toolset, turn[1], ids)
        messages += [
            {"role": "user", "content": turn[0]},
            {"role": "assistant", "content": "".join(sim.text)},
        ]
    if not messages:
        return None
    name = rng.choices(list(LAST), weights=list(LAST_WEIGHTS.values()))[0]
    last = LAST[name](ctx, toolset)
    if last is None:
        return None
    return example(ctx, toolset, last[0], last[1], "history", index, history=messages, ids=ids)
