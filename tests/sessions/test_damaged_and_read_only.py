"""A database damaged in the middle is refused at open, not filled with new
chats that cannot be shown; a read-only one can still be listed and shown
(issue 36, finding 5)."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from asynclm_tui.core.sessions.recorder import Recorder
from asynclm_tui.core.sessions.store import SessionStore, StoreError
from asynclm_tui.lab.bench.open_chat import record_chat
from tests.conftest import ROOT

NOBODY = 65534


def damage_table(db: Path, table: str) -> None:
    """Overwrite the header of ``table``'s root page, mid-file."""
    con = sqlite3.connect(db)
    (root,) = con.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()
    (page_size,) = con.execute("PRAGMA page_size").fetchone()
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    with db.open("r+b") as handle:
        handle.seek((root - 1) * page_size)
        handle.write(b"\xff" * 64)


@pytest.mark.parametrize("table", ["events", "turns", "calls"])
def test_a_database_damaged_in_the_middle_is_refused_with_recover_advice(
    tmp_path: Path, table: str
) -> None:
    db = tmp_path / "sessions.db"
    for turns in (3, 5, 8):
        record_chat(db, turns)
    damage_table(db, table)
    for open_ in (lambda: SessionStore(db, create=False), lambda: Recorder(db)):
        with pytest.raises(StoreError) as info:
            open_()
        message = str(info.value)
        assert message.startswith(f"{db}: the sessions database is damaged (")
        assert "sqlite3 FILE .recover" in message and "\n" not in message


def test_a_sound_database_opens_as_before(tmp_path: Path) -> None:
    db = tmp_path / "sessions.db"
    sid = record_chat(db, 2)
    store = SessionStore(db, create=False)
    assert not store.read_only and len(store.load(sid).turns) == 2
    store.close()


READER = """
import json, sys
from pathlib import Path
from asynclm_tui.core.sessions.store import SessionStore, StoreError
store = SessionStore(Path(sys.argv[1]), create=False)
out = {"read_only": store.read_only,
       "listed": [s.id for s in store.list_sessions()],
       "turns": len(store.load(store.latest()).turns)}
try:
    store.rename(store.latest(), "new title")
except StoreError as exc:
    out["rename"] = str(exc)
print(json.dumps(out))
"""


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder another user can reach (pytest's own is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="asynclm-ro-"))
    folder.chmod(0o755)
    yield folder
    for path in [folder, *folder.rglob("*")]:
        path.chmod(stat.S_IRWXU)
    subprocess.run(["rm", "-rf", str(folder)], check=False)


@pytest.mark.parametrize("what", ["file", "folder"])
def test_a_read_only_database_can_be_listed_and_shown(shared_dir: Path, what: str) -> None:
    folder = shared_dir / "data"
    folder.mkdir()
    db = folder / "sessions.db"
    record_chat(db, 3)
    db.chmod(0o444)
    folder.chmod(0o555 if what == "folder" else 0o755)
    as_user: list[str] = []
    if os.geteuid() == 0:  # root writes anything: read it as another user
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv to drop to another user")
        as_user = [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    # The other user sees this interpreter's packages, wherever pip put them.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, sys.path)])}
    probe = subprocess.run(
        [*as_user, sys.executable, "-c", "import platformdirs, pydantic"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=env,
    )
    if as_user and probe.returncode != 0:
        # An install made under umask 077 is unreadable by anyone but root.
        why = probe.stderr.strip().splitlines()[-1:]
        pytest.skip(f"user {NOBODY} cannot import the installed packages: {why}")
    proc = subprocess.run(
        [*as_user, sys.executable, "-c", READER, str(db)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    assert out["read_only"] and out["listed"] == [1] and out["turns"] == 3
    assert out["rename"].startswith(f"{db}: the sessions database is read-only here")
    assert SessionStore(db).load(1).info.title != "new title"
