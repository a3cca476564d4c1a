"""The database deleted, replaced or damaged under an open chat: the recorder
says so at once, keeps the chat in memory, and saves it to another file on
request or, failing that, when it closes (issue 36, finding 5)."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from asynclm_tui.core.sessions.recorder import Recorder
from asynclm_tui.core.sessions.rescue import LossKind, SavingStopped
from asynclm_tui.core.sessions.store import SessionStore, StoreError
from asynclm_tui.lab.bench.open_chat import SYSTEM, chat_turn

NOTICE_WAIT_S = 5.0
"""Bound on waiting for the notice; it comes within one flush interval."""


class Chat:
    """A recorder writing turns of a test chat, and the notices it gives."""

    def __init__(self, db: Path) -> None:
        self.recorder = Recorder(db, system=lambda: SYSTEM, interval=0.05)
        self.notices: list[SavingStopped] = []
        self.noticed = threading.Event()
        self.recorder.on_saving_stopped(self._notice)
        self.turns = 0

    def _notice(self, notice: SavingStopped) -> None:
        self.notices.append(notice)
        self.noticed.set()

    def turn(self) -> None:
        self.turns += 1
        for event in chat_turn(self.turns, t0=float(self.turns)):
            self.recorder(event)
        self.recorder.flush()

    def wait_notice(self) -> SavingStopped:
        assert self.noticed.wait(NOTICE_WAIT_S), "no notice"
        assert len(self.notices) == 1
        return self.notices[0]


def user_texts(db: Path) -> list[str]:
    store = SessionStore(db, create=False)
    try:
        (info,) = store.list_sessions()
        return [t.user_text for t in store.load(info.id).turns]
    finally:
        store.close()


def delete(db: Path) -> None:
    db.unlink()


def delete_with_journal(db: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)


def replace(db: Path) -> None:
    other = db.with_name("other.db")
    SessionStore(other).close()
    os.replace(other, db)


def overwrite(db: Path) -> None:
    with db.open("r+b") as handle:
        handle.write(b"\x00" * 4096)


@pytest.mark.parametrize(
    ("harm", "kind"),
    [
        (delete, LossKind.DELETED),
        (delete_with_journal, LossKind.DELETED),
        (replace, LossKind.REPLACED),
        (overwrite, LossKind.DAMAGED),
    ],
    ids=["deleted", "deleted-with-journal", "replaced", "overwritten"],
)
def test_a_lost_database_is_noticed_at_once_and_the_chat_saved_elsewhere(
    tmp_path: Path, harm: Callable[[Path], None], kind: LossKind
) -> None:
    db = tmp_path / "sessions.db"
    chat = Chat(db)
    try:
        chat.turn()
        chat.turn()
        harm(db)
        notice = chat.wait_notice()  # before any new turn: the file is watched
        assert notice.kind is kind and notice.path == db
        assert str(db) in notice.message and "kept in memory" in notice.message
        assert "\n" not in notice.message
        assert notice.suggested.parent == tmp_path and not notice.suggested.exists()
        chat.turn()  # the chat goes on, in memory
        rescue = tmp_path / "rescued.db"
        chat.recorder.save_to(rescue)
        assert chat.recorder.saving_stopped is None
        chat.turn()  # and is saved where it went from then on
    finally:
        chat.recorder.close()
    assert user_texts(rescue) == [f"question {n} about parsers" for n in range(1, 5)]
    assert chat.recorder.rescued is None  # saved by the user: nothing to rescue


def test_a_lost_chat_not_saved_by_the_user_is_saved_beside_the_database_at_close(
    tmp_path: Path,
) -> None:
    db = tmp_path / "sessions.db"
    chat = Chat(db)
    chat.turn()
    delete(db)
    notice = chat.wait_notice()
    chat.turn()
    chat.recorder.close()
    assert chat.recorder.rescued == notice.suggested
    assert user_texts(notice.suggested) == ["question 1 about parsers", "question 2 about parsers"]
    assert not db.exists()


def test_a_subscriber_after_the_loss_hears_of_it_and_saving_into_a_bad_path_keeps_memory(
    tmp_path: Path,
) -> None:
    db = tmp_path / "sessions.db"
    chat = Chat(db)
    try:
        chat.turn()
        delete(db)
        chat.wait_notice()
        late: list[SavingStopped] = []
        chat.recorder.on_saving_stopped(late.append)
        assert [n.kind for n in late] == [LossKind.DELETED]
        (tmp_path / "a-folder.db").mkdir()
        with pytest.raises(StoreError, match="a-folder.db"):
            chat.recorder.save_to(tmp_path / "a-folder.db")
        assert chat.recorder.saving_stopped is not None
        chat.turn()
        chat.recorder.save_to(tmp_path / "good.db")
    finally:
        chat.recorder.close()
    assert len(user_texts(tmp_path / "good.db")) == 2


def test_a_database_still_in_place_is_not_reported(tmp_path: Path) -> None:
    db = tmp_path / "sessions.db"
    chat = Chat(db)
    try:
        for _ in range(3):
            chat.turn()
        reader = sqlite3.connect(db)  # another process reading it changes nothing
        reader.execute("SELECT COUNT(*) FROM turns").fetchone()
        reader.close()
        chat.turn()
    finally:
        chat.recorder.close()
    assert chat.notices == [] and chat.recorder.rescued is None
    assert len(user_texts(db)) == 4
