"""The render pacer: a live frame rate for the machine's shape, typed keys first."""

from __future__ import annotations

from asynclm_tui.ui.streaming.render_pacer import (
    FRAME_NO_SPARE_CORE_S,
    FRAME_SPARE_CORE_S,
    KEY_GAP_S,
    KEY_WAIT_S,
    RenderPacer,
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def frames(p: RenderPacer, clock: Clock, seconds: float) -> int:
    """Render whenever due for ``seconds``; returns how many renders there were."""
    end, n = clock.now + seconds, 0
    p.rendered()
    while clock.now < end:
        clock.now += max(p.delay(), 0.001)
        p.rendered()
        n += 1
    return n


def test_a_spare_core_or_a_gpu_gets_fifteen_frames_a_second_or_more() -> None:
    clock = Clock()
    p = RenderPacer(clock)
    for threads, cpus in ((3, 4), (1, 2), (0, 2)):  # a core left over; all layers on a GPU
        p.set_decode_threads(threads, cpus)
        assert not p.constrained
        assert frames(p, clock, 2.0) >= 2 * 15


def test_with_every_core_decoding_four_frames_a_second_or_more() -> None:
    clock = Clock()
    p = RenderPacer(clock)
    p.set_decode_threads(2, cpus=2)
    assert p.constrained
    n = frames(p, clock, 10.0)
    assert 4 * 10 <= n <= 6 * 10  # live, but each frame is taken from decoding
    assert p.interval == FRAME_NO_SPARE_CORE_S > FRAME_SPARE_CORE_S


def test_while_typing_renders_wait_for_a_key_then_follow_it() -> None:
    clock = Clock()
    p = RenderPacer(clock)
    p.set_decode_threads(2, cpus=2)
    p.rendered()
    clock.now += 0.05
    assert not p.key()  # a render just happened: nothing due
    assert p.delay() > p.interval - 0.05  # typing: the timer steps back...
    assert p.delay() <= KEY_WAIT_S * p.interval  # ...but not for long
    clock.now += p.interval
    assert p.key()  # ...and the next key, once a render is due, brings it
    clock.now += KEY_GAP_S + 0.01  # the user stopped typing
    assert p.delay() == 0.0  # due at the normal interval
