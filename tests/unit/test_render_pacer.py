"""The render pacer: CPU-share feedback, spare cores, typed keys first."""

from __future__ import annotations

from asynclm_tui.ui.streaming.render_pacer import (
    FLUSH_MAX_S,
    FLUSH_MIN_S,
    UI_SHARE_NO_SPARE_CORE,
    UI_SHARE_SPARE_CORE,
    RenderPacer,
)


class Clocks:
    def __init__(self) -> None:
        self.wall = 100.0
        self.cpu = 0.0


def pacer(clocks: Clocks) -> RenderPacer:
    return RenderPacer(clock=lambda: clocks.wall, cpu_clock=lambda: clocks.cpu)


def run(p: RenderPacer, clocks: Clocks, cost_s: float, renders: int) -> None:
    """Render ``renders`` times, each costing ``cost_s`` of UI CPU, when due."""
    p.rendered()
    for _ in range(renders):
        clocks.wall += max(p.delay(), 0.001)
        clocks.cpu += cost_s
        p.rendered()


def test_expensive_renders_slow_down_until_the_ui_share_holds() -> None:
    clocks = Clocks()
    p = pacer(clocks)
    p.set_decode_threads(2, cpus=2)
    assert p.share == UI_SHARE_NO_SPARE_CORE
    cost = 0.01  # 10 ms each: the share is held at the interval cost / share
    run(p, clocks, cost_s=cost, renders=40)
    assert abs(p.interval - cost / UI_SHARE_NO_SPARE_CORE) < 0.05
    run(p, clocks, cost_s=0.2, renders=10)  # far too slow: capped
    assert p.interval == FLUSH_MAX_S


def test_cheap_renders_or_a_spare_core_keep_ten_per_second() -> None:
    clocks = Clocks()
    p = pacer(clocks)
    p.set_decode_threads(2, cpus=2)
    run(p, clocks, cost_s=0.0005, renders=20)
    assert p.interval == FLUSH_MIN_S
    p.set_decode_threads(3, cpus=4)
    assert p.share == UI_SHARE_SPARE_CORE
    run(p, clocks, cost_s=0.02, renders=20)
    assert p.interval == FLUSH_MIN_S
    assert not p.constrained
    p.set_decode_threads(0, cpus=2)  # all layers on a GPU
    assert p.share == UI_SHARE_SPARE_CORE
    assert not p.constrained
    p.set_decode_threads(2, cpus=2)
    assert p.constrained


def test_while_typing_renders_wait_for_a_key_then_follow_it() -> None:
    clocks = Clocks()
    p = pacer(clocks)
    p.rendered()
    clocks.wall += 0.05
    assert not p.key()  # a render just happened: nothing due
    assert p.delay() > FLUSH_MIN_S  # typing: the timer steps back...
    clocks.wall += 0.1
    assert p.key()  # ...and the next key, once a render is due, brings it
    clocks.wall += KEY_GAP_AFTER
    assert p.delay() == 0.0  # no keys for a while: due at the normal interval


KEY_GAP_AFTER = 0.4  # longer than KEY_GAP_S: the user stopped typing
