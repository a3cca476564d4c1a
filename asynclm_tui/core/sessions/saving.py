"""Saving a chat as it runs: the recorder for a new chat or a continued one."""

from __future__ import annotations

from pathlib import Path

from asynclm_tui.core.api.handle import EngineHandle
from asynclm_tui.core.sessions.recorder import ChatSessions, Recorder, resume_into
from asynclm_tui.core.sessions.store import (
    SessionStore,
    StoredSession,
    StoreError,
    default_db_path,
)


class CannotSave(StoreError):
    """The sessions database cannot be opened to save this chat (a front end
    may offer to run without saving)."""


def open_recorder(
    engine: EngineHandle,
    db: Path | None,
    *,
    source: str = "chat",
    session_id: int | None = None,
) -> Recorder:
    """A recorder writing ``engine``'s turns to the sessions database ``db``
    (default: :func:`default_db_path`), subscribed to the engine.

    Raises:
        CannotSave: the database cannot be opened or created.
    """
    try:
        recorder = Recorder(
            db or default_db_path(),
            session_id=session_id,
            system=lambda: engine.snapshot().system_prompt,
            source=source,
        )
    except StoreError as exc:
        raise CannotSave(str(exc)) from exc
    engine.subscribe(recorder)
    return recorder


def open_chat_sessions(
    engine: EngineHandle,
    db: Path | None,
    *,
    session_id: int | None,
    latest: bool,
    save: bool,
) -> ChatSessions:
    """Saving for the chat UI; loads the chat to continue (``session_id``, or
    the most recent one with ``latest``) into ``engine``.

    Raises:
        StoreError: the chat to continue cannot be read.
        CannotSave: ``save`` and the database cannot be opened for writing.
    """
    path = db or default_db_path()
    resumed: StoredSession | None = None
    notice = ""
    if session_id is not None or latest:
        store = SessionStore(path)
        try:
            wanted = session_id if session_id is not None else store.latest()
            if wanted is None:
                notice = "There is no saved chat to continue yet; this is a new one."
            else:
                resumed = store.load(wanted)
        finally:
            store.close()
    recorder = None
    if save:  # first: the turn a waiting result starts at once is saved too
        recorder = open_recorder(engine, path, session_id=resumed.info.id if resumed else None)
    if resumed is not None:
        resume_into(engine, resumed)
    return ChatSessions(path, recorder, resumed, notice)
