"""The Textual application: wires an engine to the chat screen.

Construction order is settings, then engine, then :func:`create_app`; the app
starts the engine, subscribes to its events (delivered as
:class:`~asynclm_tui.ui.engine_messages.EngineEvent` messages, which is thread-safe)
and posts user actions back as engine inputs.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.driver import Driver
from textual.notifications import SeverityLevel
from textual.screen import Screen

from asynclm_tui.core.api.display import visible
from asynclm_tui.core.api.events import Event, Token
from asynclm_tui.core.sessions.recorder import ChatSessions, resume_into
from asynclm_tui.core.sessions.rescue import SavingStopped
from asynclm_tui.core.sessions.store import SessionStore, StoreError
from asynclm_tui.core.settings.config import Settings
from asynclm_tui.core.tools.mcp.status import ServerState
from asynclm_tui.ui.chat.screen import ChatScreen
from asynclm_tui.ui.clipboard import Clipboard
from asynclm_tui.ui.engine_messages import CopyRequested, EngineEvent, EventsPending, SavingLost
from asynclm_tui.ui.keys import binding_groups
from asynclm_tui.ui.mcp_link import McpLink, McpStatusChanged, notice
from asynclm_tui.ui.palette import palette_commands, save_screen_svg
from asynclm_tui.ui.replay import replay
from asynclm_tui.ui.screens.help import HelpScreen
from asynclm_tui.ui.screens.sessions import SessionsScreen
from asynclm_tui.ui.state import ChatState
from asynclm_tui.ui.streaming.rich_markdown import warm_lexers
from asynclm_tui.ui.streaming.startup_gc import resume_collection
from asynclm_tui.ui.textual_internals import is_batching, is_exiting
from asynclm_tui.ui.theming import DEFAULT_THEME, chosen_theme, load_themes, remember_theme

if TYPE_CHECKING:
    from asynclm_tui.core.api.handle import EngineHandle


DRAIN_SLICE_S = 0.010
"""Longest the app's handler applies engine events before it lets the keys
typed meanwhile through (they queue behind it); the rest follow at once."""
SWITCH_INTERVAL_S = 0.0005
"""GIL switch interval while the TUI runs (Python's default is 5 ms)."""


def model_label(settings: Settings) -> str:
    """The model file name for the loading screen (before it loads), or the
    server it runs on."""
    if settings.model.backend == "openai":
        from asynclm_tui.core.backends.openai_http import ServerConfig

        url = settings.server.base_url
        return f"the model on {ServerConfig(url).host}" if url else "the server's model"
    if settings.model.path is not None:
        return settings.model.path.name
    return "the bundled SmolLM2-135M-Instruct"


def load_failure_hint(settings: Settings) -> str:
    """What to try when the model does not load."""
    if settings.model.backend == "openai":
        return "Start the server, or check its address with `asynclm doctor --base-url URL`."
    return (
        "Check the path with `asynclm doctor`, or choose a GGUF file with "
        "--model PATH (or model.path in the config)."
    )


class AsyncLMApp(App[None]):
    """Chat with a local model that keeps talking while its tools run."""

    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses elsewhere keep it
    TITLE = "asynclm"
    ENABLE_COMMAND_PALETTE = True

    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", priority=True, id="quit"),
        Binding("f1", "help", "Help", id="help"),
        Binding("ctrl+s", "sessions", "Saved chats", show=False, id="sessions"),
    ]

    def __init__(
        self,
        settings: Settings,
        engine: EngineHandle,
        *,
        clock: Callable[[], float] | None = None,
        theme_dirs: Iterable[Path] | None = None,
        start_engine: bool = True,
        sessions: ChatSessions | None = None,
        mcp: McpLink | None = None,
    ) -> None:
        super().__init__()
        self.mcp = mcp
        """The chat's MCP servers (None: none declared)."""
        self._mcp_states: dict[str, ServerState] = {}
        self.settings = settings
        self.engine = engine
        self.sessions = sessions
        """Saving and the chat to continue (None: nothing is saved)."""
        self.state = ChatState()
        self.clock = clock or engine.elapsed
        """Engine-time clock for live timers (tests pass a frozen one)."""
        self._start_engine = start_engine
        self.first_frame = asyncio.Event()
        """Set once a frame has reached the terminal."""
        self.clipboard_sink = Clipboard(
            lambda text: App.copy_to_clipboard(self, text), settings.ui.clipboard
        )
        """Where copies go (the terminal clipboard or a file)."""
        self._pending: deque[Event] = deque()
        self._draining = asyncio.Lock()
        """The app's handler and the screen's render timer both drain, as
        different tasks: one at a time, or an event applied while another
        awaits (a turn's first token while its entry mounts) lands out of order."""
        self._wake_posted = False
        self._urgent_posted = False
        self._startup_notes: list[tuple[str, str]] = []
        loaded = load_themes(theme_dirs)
        for theme in loaded.themes:
            self.register_theme(theme)
        for error in loaded.errors:
            self._startup_notes.append((f"Theme skipped: {error}", "error"))
        wanted = settings.ui.theme
        if "theme" not in settings.ui.model_fields_set:  # neither the file nor --theme chose
            wanted = chosen_theme() or wanted
        if wanted not in self.available_themes:
            self._startup_notes.append(
                (
                    f"Unknown theme {wanted!r}; using {DEFAULT_THEME}. "
                    f"Known: {', '.join(sorted(self.available_themes))}",
                    "warning",
                )
            )
            wanted = DEFAULT_THEME
        self.theme = wanted
        self.chat = ChatScreen(
            engine,
            self.state,
            self.clock,
            model_label=model_label(settings),
            keymap=settings.ui.keymap,
            load_hint=load_failure_hint(settings),
            raw=settings.ui.show_raw,
            calls_shown=settings.ui.calls_panel == "shown",
            open_calls_for_approval=settings.ui.open_calls_for_approval,
            drain=self.drain_events,
            mcp=mcp,
        )

    async def on_mount(self) -> None:
        """Apply the keymap, report startup problems, start the engine."""
        # Pushed rather than returned from get_default_screen: only pushed
        # screens get their CSS_PATH loaded.
        await self.push_screen(self.chat)
        self._apply_keymap()
        if self.sessions is not None:
            recorder = self.sessions.recorder
            if recorder is not None:
                recorder.on_error = self._saving_failed
                recorder.on_saving_stopped(self._saving_lost)
                self.chat.steering.queue.subscribe(
                    lambda items: recorder.save_queued([i.text for i in items])
                )
            if self.sessions.resumed is not None:
                await replay(self.chat, self.sessions.resumed, self._draining, self.first_frame)
                await self.chat.restore_queue(self.sessions.resumed.queued)
            if self.sessions.notice:
                self.notify(self.sessions.notice, timeout=6)
        for message, severity in self._startup_notes:
            self.notify(message, severity=severity, timeout=10)  # type: ignore[arg-type]
        for err in self.engine.snapshot().tool_errors:
            self.notify(f"Tool skipped: {err}", severity="error", timeout=10)
        self.engine.subscribe(self.receive)
        # A continued chat's session may have started before we listened.
        self.chat.state.rebind(self.engine.snapshot().session)
        self._end_on_signals()
        self.call_after_refresh(self._after_first_frame)

    def _end_on_signals(self) -> None:
        """SIGTERM (a ``kill``, a shutdown) and SIGHUP (the terminal window
        closed) end the chat as Ctrl+Q does: the terminal restored, the answer
        so far and the queue saved, running calls recorded as interrupted."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGHUP):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signum, self.exit, None, 128 + signum)

    def _after_first_frame(self) -> None:
        """Start the background work once a frame has reached the terminal:
        loading the model and the lexers imports llama.cpp and Pygments,
        holding the GIL the first frame (a resumed chat's recent turns) is
        drawn with."""
        if is_batching(self):  # inside the mount: that frame was not sent
            self.call_after_refresh(self._after_first_frame)
        else:
            # The batch may have ended after that refresh: one more, outside it.
            self.call_after_refresh(self._start_background)

    def watch_theme(self, name: str) -> None:
        """A theme picked once the chat is up (the command palette) is kept
        for the next start."""
        if self.first_frame.is_set():
            remember_theme(name)

    def _start_background(self) -> None:
        self.first_frame.set()
        resume_collection()
        if self.mcp is not None:
            self._show_mcp()
            self.mcp.start(self.engine, self)
        if self._start_engine:
            self.engine.start()
        # Off the UI thread: the first code block would otherwise stall it.
        threading.Thread(target=warm_lexers, name="asynclm-lexers", daemon=True).start()

    def get_driver_class(self) -> type[Driver]:
        """Textual's driver, with stdin at end of file not read in a busy loop."""
        driver = super().get_driver_class()
        if driver.__module__ != "textual.drivers.linux_driver":
            return driver  # Windows, or TEXTUAL_DRIVER chose another one
        from asynclm_tui.ui.textual_internals import StdinEOFDriver

        return StdinEOFDriver

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Every toast, its text shown as text: a tool's name or result, a
        server's error, a file name may hold control characters."""
        super().notify(
            visible(message),
            title=visible(title),
            severity=severity,
            timeout=timeout,
            markup=markup,
        )

    def _saving_lost(self, lost: SavingStopped) -> None:
        self.post_message(SavingLost(lost))  # from the recorder's thread

    def on_saving_lost(self, message: SavingLost) -> None:
        """The sessions database went away under the chat: say so at once."""
        self.notify(
            f"{message.lost.message} The chat is kept; it is saved to "
            f"{message.lost.suggested} when you quit.",
            title="Not saved",
            severity="error",
            timeout=30,
            markup=False,
        )

    def on_mcp_status_changed(self, message: McpStatusChanged) -> None:
        """A server started, failed or came back: the status bar and a toast."""
        status = message.status
        said = notice(status, self._mcp_states.get(status.name))
        self._mcp_states[status.name] = status.state
        self._show_mcp()
        if said is not None:
            text, severity = said
            self.notify(text, severity=severity, markup=False)

    def _show_mcp(self) -> None:
        if self.mcp is not None:
            self.chat.status.set_mcp(*self.mcp.counts())

    def copy_to_clipboard(self, text: str) -> None:
        """Copy ``text`` (Textual's copy actions land here too): see :meth:`copy_text`."""
        self.copy_text(text, "the text", "copy")

    def copy_text(self, text: str, what: str, name: str) -> None:
        """Copy to the terminal clipboard, or a file where the terminal drops
        OSC 52 (see :mod:`asynclm_tui.ui.clipboard`), and say which."""
        try:
            copied = self.clipboard_sink.copy(text, name)
        except OSError as exc:
            self.notify(f"Could not save the copy: {exc}", severity="error", markup=False)
            return
        self.notify(
            copied.notice(what, text),
            title="Copied",
            markup=False,
            timeout=4 if copied.path is None else 10,
        )

    def on_copy_requested(self, message: CopyRequested) -> None:
        """A copy asked for by a widget or a key."""
        self.copy_text(message.text, message.what, message.name)

    def receive(self, event: Event) -> None:
        """Take one engine event (the app's subscription; called on engine
        threads).  Subclasses may override it to hold or observe events and
        pass them on with ``super().receive``."""
        # deque.append is atomic; post_message is Textual's thread-safe
        # entry, used once per drain, not per event.
        self._pending.append(event)
        if isinstance(event, Token):
            if not self._wake_posted:
                self._wake_posted = True
                self.post_message(EventsPending(urgent=False))
        elif not self._urgent_posted:
            self._urgent_posted = True
            self.post_message(EventsPending(urgent=True))

    async def on_events_pending(self, message: EventsPending) -> None:
        """Calls, results and the like now; tokens with the next render."""
        if message.urgent:
            self._urgent_posted = False
            if not await self.drain_events(DRAIN_SLICE_S):
                return  # the rest, and the render, after the keys
        # The render drains queued tokens itself (ChatScreen.flush_now).
        await self.chat.flush_soon()

    async def drain_events(self, budget_s: float | None = None) -> bool:
        """Hand the queued engine events to the chat screen, in order: all of
        them, or for about ``budget_s`` and then the rest in a message of
        their own, after the keys queued meanwhile (20 results landing at
        once would otherwise hold a key back for a tenth of a second).
        Returns whether the queue was emptied."""
        # Flags are reset before draining: an event queued meanwhile either
        # gets drained here or posts a new EventsPending; it is never stranded.
        self._wake_posted = False
        deadline = None if budget_s is None else time.perf_counter() + budget_s
        async with self._draining:
            while self._pending:
                if is_exiting(self):  # shutting down: the screen may already be gone
                    self._pending.clear()
                    break
                await self.chat.apply(self._pending.popleft())
                if self._pending and deadline is not None and time.perf_counter() > deadline:
                    if not self._urgent_posted:
                        self._urgent_posted = True
                        self.post_message(EventsPending(urgent=True))
                    return False
        return True

    def _saving_failed(self, message: str) -> None:
        # Called on the recorder's thread.
        self.call_from_thread(self.notify, message, title="Not saved", severity="error", timeout=10)

    def action_sessions(self) -> None:
        """Saved chats: search, open, rename, delete."""
        if self.sessions is None:
            self.notify("Chats are not saved in this run.", severity="warning")
            return
        if isinstance(self.screen, SessionsScreen):
            return
        recorder = self.sessions.recorder
        current = recorder.session_id if recorder is not None else None
        if current is None and self.sessions.resumed is not None:
            current = self.sessions.resumed.info.id

        async def chosen(session_id: int | None) -> None:
            if session_id is not None:
                await self.open_saved(session_id)

        def deleted() -> None:
            if recorder is not None:
                recorder.new_session()

        self.push_screen(SessionsScreen(self.sessions.db_path, current, deleted), chosen)

    async def open_saved(self, session_id: int) -> None:
        """Replace the chat on screen with saved chat ``session_id``; the model
        gets its context back."""
        if self.sessions is None or not self.chat.idle_or_warn():
            return
        try:
            store = SessionStore(self.sessions.db_path)
            try:
                stored = store.load(session_id)
            finally:
                store.close()
        except StoreError as exc:
            self.notify(str(exc), severity="error", timeout=10)
            return
        recorder = self.sessions.recorder
        rejoin = recorder.engine_session_of(session_id) if recorder is not None else None
        running = self.engine.snapshot().away.get(rejoin, ()) if rejoin is not None else ()
        self.chat.background.leaving()
        # No engine event is drawn until the chat is: the session's start
        # (and what the chat takes back) then finds its calls on screen.
        async with self._draining:
            if recorder is not None:
                recorder.new_session(session_id)
            resume_into(self.engine, stored, rejoin)
            self.sessions.resumed = stored
            await self.chat.clear_view()
            await replay(self.chat, stored, self._draining, self.first_frame, frozenset(running))
        await self.chat.restore_queue(stored.queued)

    def on_chat_screen_chat_cleared(self) -> None:
        """A new chat is saved as a new session."""
        if self.sessions is not None and self.sessions.recorder is not None:
            self.sessions.recorder.new_session()

    async def on_engine_event(self, message: EngineEvent) -> None:
        """Apply one event posted directly (tests and replays use this)."""
        await self.chat.apply(message.event)
        await self.chat.flush_soon()

    def _apply_keymap(self) -> None:
        keymap = dict(self.settings.ui.keymap)
        known = {b.id for _, group in binding_groups(self.BINDINGS) for b in group if b.id}
        unknown = sorted(set(keymap) - known)
        if unknown:
            self.notify(
                f"ui.keymap: unknown binding id(s) {', '.join(unknown)} (see F1)",
                severity="warning",
                timeout=10,
            )
        self.set_keymap({k: v for k, v in keymap.items() if k in known})
        self.chat.prompt.set_keys(
            keymap.get("send", "enter"),
            keymap.get("newline", "ctrl+j,alt+enter,shift+enter"),
            keymap.get("queue", "tab"),
        )

    def action_help(self) -> None:
        """Show every key and its id."""
        if isinstance(self.screen, HelpScreen):
            self.pop_screen()
            return
        self.push_screen(HelpScreen(binding_groups(self.BINDINGS), self.settings.ui.keymap))

    async def action_quit(self) -> None:
        """Quit; the exit code is 1 when the model never loaded."""
        self.exit(return_code=1 if self.chat.load_failed else 0)

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """Command palette entries: modes, views, copying and help next to Textual's own."""
        for command in super().get_system_commands(screen):
            # Ours replace Textual's "Keys" (one help screen, F1) and
            # "Screenshot" (which fails where ~/Downloads is missing).
            if command.title not in ("Keys", "Screenshot"):
                yield command
        yield from palette_commands(
            self.chat,
            self.engine.snapshot().mode,
            sessions=self.action_sessions,
            help=self.action_help,
            screenshot=lambda: self.set_timer(0.1, lambda: save_screen_svg(self)),
        )


def create_app(
    settings: Settings,
    engine: EngineHandle,
    *,
    clock: Callable[[], float] | None = None,
    theme_dirs: Iterable[Path] | None = None,
    start_engine: bool = True,
    sessions: ChatSessions | None = None,
    mcp: McpLink | None = None,
) -> AsyncLMApp:
    """Build the app for ``settings`` around ``engine`` (not yet started)."""
    return AsyncLMApp(
        settings,
        engine,
        clock=clock,
        theme_dirs=theme_dirs,
        start_engine=start_engine,
        sessions=sessions,
        mcp=mcp,
    )


def run_app(
    settings: Settings,
    engine: EngineHandle,
    sessions: ChatSessions | None = None,
    *,
    mcp: McpLink | None = None,
) -> int:
    """Run the TUI until the user quits; returns the process exit code."""
    app = create_app(settings, engine, sessions=sessions, mcp=mcp)
    # The decode thread needs the GIL briefly between llama.cpp calls; a short
    # switch interval stops a long UI render from delaying every token by 5 ms.
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    try:
        app.run()
    finally:
        resume_collection()  # if the app ended before its first frame
        engine.close()
        if mcp is not None:
            mcp.hub.close()
        if sessions is not None and sessions.recorder is not None:
            sessions.recorder.close()
            if sessions.recorder.rescued is not None:
                print(
                    f"asynclm: the sessions database was lost; this chat was saved to "
                    f"{sessions.recorder.rescued}",
                    file=sys.stderr,
                )
    load_error = engine.snapshot().load_error
    if load_error:
        print(f"asynclm: could not load the model: {load_error}", file=sys.stderr)
        return 1
    return app.return_code or 0
