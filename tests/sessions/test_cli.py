"""``asynclm sessions ...`` on a recorded database."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from asynclm_tui.cli.app import app
from asynclm_tui.core.sessions.store import SessionStore
from asynclm_tui.lab.bench.open_chat import record_chat as record

runner = CliRunner()


def invoke(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_list_show_export_delete(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    first = record(db, 2)
    second = record(db, 1)
    code, out, _ = invoke("sessions", "list", "--db", str(db), "--json")
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert [(r["id"], r["turns"]) for r in rows] == [(second, 1), (first, 2)]
    assert {"id", "title", "updated", "turns"} <= set(rows[0])
    code, out, _ = invoke("sessions", "list", "--db", str(db))
    assert code == 0 and "question 1 about parsers" in out
    code, out, _ = invoke("sessions", "show", str(first), "--db", str(db))
    assert code == 0 and "## You (turn 2)" in out and "sleep(ms=2)" in out
    for fmt in ("md", "json", "jsonl"):
        target = tmp_path / f"out.{fmt}"
        code, out, err = invoke(
            "sessions", "export", str(first), "--format", fmt, "--out", str(target), "--db", str(db)
        )
        assert code == 0, err
        assert target.stat().st_size > 100
    assert len(json.loads((tmp_path / "out.json").read_text())["turns"]) == 2
    code, _, _ = invoke("sessions", "delete", str(first), "--db", str(db), stdin="n\n")
    assert code == 1 and len(SessionStore(db).list_sessions()) == 2
    code, out, _ = invoke("sessions", "delete", str(first), "--db", str(db), stdin="y\n")
    assert code == 0 and [s.id for s in SessionStore(db).list_sessions()] == [second]


def test_user_mistakes_are_one_line_errors(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    record(db, 1)
    for args, needle in [
        (("sessions", "show", "42"), "no session 42"),
        (("sessions", "export", "1", "--format", "pdf"), "--format: 'pdf'"),
        (("sessions", "delete", "42", "--yes"), "no session 42"),
        (("sessions", "rename", "1", "  "), "TITLE"),
        (("sessions", "export", "1", "--out", str(tmp_path / "no" / "x.md")), "--out"),
    ]:
        code, _, err = invoke(*args, "--db", str(db))
        assert code == 2, args
        assert needle in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    db.write_bytes(db.read_bytes()[:100])
    code, _, err = invoke("sessions", "list", "--db", str(db))
    assert code == 2 and str(db) in err and "damaged" in err


def test_nothing_saved_yet(tmp_path: Path) -> None:
    code, out, _ = invoke("sessions", "list", "--db", str(tmp_path / "none.db"))
    assert code == 0 and "no saved chats yet" in out
    code, _, err = invoke("sessions", "show", "1", "--db", str(tmp_path / "none.db"))
    assert code == 2 and "no saved chats yet" in err


def test_show_and_export_without_an_id_take_the_latest_chat(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    record(db, 2)
    latest = record(db, 1)
    code, shown, err = invoke("sessions", "show", "--db", str(db))
    assert code == 0, err
    assert shown == invoke("sessions", "show", str(latest), "--db", str(db))[1]
    code, exported, err = invoke("sessions", "export", "--format", "json", "--db", str(db))
    assert code == 0, err
    assert json.loads(exported)["id"] == latest


def test_show_without_an_id_on_an_empty_database_says_so(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    SessionStore(db, create=True).close()
    code, _, err = invoke("sessions", "show", "--db", str(db))
    assert code == 2 and "no saved chats yet" in err and len(err.strip().splitlines()) == 1
