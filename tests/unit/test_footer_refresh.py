"""The chat's footer is updated once per refresh, however many events ask."""

from __future__ import annotations

from collections.abc import Callable

from asynclm_tui.ui.chat.footer import FooterRefresh


class Refreshes:
    """Stands in for a screen: callbacks wait for its next refresh."""

    def __init__(self) -> None:
        self.waiting: list[Callable[[], None]] = []
        self.published = 0

    def after_refresh(self, callback: Callable[[], None]) -> None:
        self.waiting.append(callback)

    def refresh(self) -> None:
        waiting, self.waiting = self.waiting, []
        for callback in waiting:
            callback()

    def publish(self) -> None:
        self.published += 1


def test_many_requests_before_a_refresh_update_the_footer_once() -> None:
    screen = Refreshes()
    footer = FooterRefresh(screen.after_refresh, screen.publish)
    for _ in range(5):
        footer.request()
    screen.refresh()
    assert screen.published == 1
    footer.request()
    screen.refresh()
    assert screen.published == 2


def test_a_held_footer_is_updated_once_at_the_end() -> None:
    screen = Refreshes()
    footer = FooterRefresh(screen.after_refresh, screen.publish)
    with footer.held():
        footer.request()
        screen.refresh()
        footer.request()
        screen.refresh()
        assert screen.published == 0
    screen.refresh()
    assert screen.published == 1
