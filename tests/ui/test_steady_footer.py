"""The footer keeps its keys while the bindings it shows stay the same, and follows a change."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Input
from textual.widgets._footer import FooterKey
from uiharness import wait_until

from asynclm_tui.ui.widgets.steady_footer import SteadyFooter


class TwoInputs(App[None]):
    BINDINGS = [Binding("f5", "send", "Send"), Binding("f6", "stop", "Stop")]
    running = False

    def compose(self) -> ComposeResult:
        yield Input(id="first")
        yield Input(id="second")
        yield SteadyFooter()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "stop":
            return True if self.running else None  # None: shown, but disabled
        return True

    def action_send(self) -> None:
        self.running = True
        self.refresh_bindings()

    def action_stop(self) -> None:
        self.running = False
        self.refresh_bindings()


def stop_key_disabled(app: App[None]) -> bool:
    [stop] = [key for key in app.query(FooterKey) if key.action == "stop"]
    return stop.has_class("-disabled")


async def test_focus_moves_keep_the_keys_and_a_binding_change_rebuilds_them() -> None:
    app = TwoInputs()
    async with app.run_test(size=(80, 10)) as pilot:
        await wait_until(pilot, lambda: len(app.query(FooterKey)) >= 2, what="the keys")
        keys = list(app.query(FooterKey))
        assert stop_key_disabled(app)
        for target in ("#second", "#first", "#second"):
            app.query_one(target).focus()
            await pilot.pause()
        assert all(a is b for a, b in zip(list(app.query(FooterKey)), keys, strict=True))
        await pilot.press("f5")
        await wait_until(pilot, lambda: not stop_key_disabled(app), what="Stop enabled")
        assert not any(key in keys for key in app.query(FooterKey))
