"""stdin that is not a terminal: read to end of file, then left alone."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from textual import events
from textual.app import App
from textual.message import Message
from uiharness import ui_settings

from asynclm_tui.core.decode.from_settings import build_engine
from asynclm_tui.ui.app import create_app
from asynclm_tui.ui.textual_internals import AltEnterParser, StdinEOFDriver


class Recording(StdinEOFDriver):
    """The driver with what its input thread posts kept in a list."""

    def __init__(self, app: App[Any]) -> None:
        super().__init__(app)
        self.seen: list[Message] = []

    def process_message(self, message: Message) -> None:
        self.seen.append(message)


async def test_input_thread_stops_reading_at_end_of_file(monkeypatch: Any) -> None:
    reads: list[int] = []
    real_read = os.read

    def counting_read(fd: int, n: int) -> bytes:
        reads.append(fd)
        return real_read(fd, n)

    monkeypatch.setattr(os, "read", counting_read)
    r, w = os.pipe()
    os.write(w, b"ab")
    os.close(w)  # the pipe is at end of file once "ab" is read
    driver = Recording(App())
    driver.fileno, driver.input_tty = r, False
    thread = threading.Thread(target=driver.run_input_thread, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not driver.input_ended:
            assert time.monotonic() < deadline, "the input thread never saw end of file"
            thread.join(0.01)
        # Textual's own loop reads the closed pipe again at once, forever.
        assert reads.count(r) == 2  # the data, then end of file: no more
        keys = [m.key for m in driver.seen if isinstance(m, events.Key)]
        assert keys == ["a", "b"]
        assert thread.is_alive()  # waiting for the app to exit, not reading
    finally:
        driver.exit_event.set()
        thread.join(5)
        os.close(r)
    assert not thread.is_alive()


async def test_alt_enter_as_tmux_sends_it_is_alt_enter_not_enter() -> None:
    # tmux sends Alt+Enter as ESC CR.
    r, w = os.pipe()
    driver = Recording(App())
    driver.fileno, driver.input_tty = r, True
    thread = threading.Thread(target=driver.run_input_thread, daemon=True)
    thread.start()
    expected = ["h", "i", "alt+enter", "alt+enter", "x", "escape", "enter"]
    try:
        os.write(w, b"hi\x1b\r\x1b\rx\x1b")
        deadline = time.monotonic() + 10
        while len(driver.seen) < len(expected) - 1:
            assert time.monotonic() < deadline, driver.seen
            thread.join(0.01)
        os.write(w, b"\r")  # a lone Esc, long before: then a plain Enter
        while len(driver.seen) < len(expected):
            assert time.monotonic() < deadline, driver.seen
            thread.join(0.01)
        keys = [m.key for m in driver.seen if isinstance(m, events.Key)]
        assert keys == expected
    finally:
        driver.exit_event.set()
        os.close(w)
        thread.join(5)
        os.close(r)


def test_esc_then_cr_after_the_escape_delay_is_still_alt_enter() -> None:
    # Textual reissues ESC, CR that came slower than its escape delay as CR
    # with the Alt flag set.
    parser = AltEnterParser()
    assert [k.key for k in parser._sequence_to_key_events("\r", alt=True)] == ["alt+enter"]
    assert [k.key for k in parser._sequence_to_key_events("\r")] == ["enter"]


async def test_the_app_uses_it_where_textual_would_use_its_linux_driver() -> None:
    settings = ui_settings()
    engine = build_engine(settings, interactive=True)
    try:
        app = create_app(settings, engine, start_engine=False)
        assert app.get_driver_class() is StdinEOFDriver
    finally:
        engine.close()
