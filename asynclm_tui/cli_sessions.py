"""``asynclm sessions ...``: list, show, export, rename and delete saved chats."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from asynclm_tui.cli_common import PlainArgsCommand, fail
from asynclm_tui.core.sessions.export import FORMATS, render, to_markdown
from asynclm_tui.core.sessions.store import SessionStore, StoreError, default_db_path

sessions_app = typer.Typer(
    help="Saved chats: list, show, export, rename, delete.", no_args_is_help=True
)

DbOpt = Annotated[
    Path | None,
    typer.Option(
        "--db",
        metavar="FILE",
        help="Sessions database (default: XDG data dir/asynclm/sessions.db).",
    ),
]


def open_store(db: Path | None, *, create: bool = False) -> SessionStore:
    """The store at ``--db`` (or the default); exits with a message on errors."""
    path = db or default_db_path()
    try:
        return SessionStore(path, create=create)
    except StoreError as exc:
        if not create and not path.exists():
            fail(f"{path}: no saved chats yet (chats are saved as you talk)")
        fail(str(exc))


@sessions_app.command("list")
def sessions_list(
    db: DbOpt = None,
    search: Annotated[
        str, typer.Option("--search", "-s", metavar="TEXT", help="Only chats with this text.")
    ] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
) -> None:
    """Saved chats, most recent first: id, title, updated, turns."""
    path = db or default_db_path()
    if not path.exists():
        if as_json:
            return
        typer.echo(f"no saved chats yet ({path})")
        return
    store = open_store(db)
    try:
        found = store.list_sessions(search)
    except StoreError as exc:
        fail(str(exc))
    finally:
        store.close()
    if as_json:
        for info in found:
            typer.echo(json.dumps(info.to_json(), ensure_ascii=False))
        return
    if not found:
        typer.echo("no matching chats" if search else "no saved chats yet")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    for col, just in (
        ("id", "right"),
        ("title", "left"),
        ("updated", "left"),
        ("turns", "right"),
        ("from", "left"),
    ):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for info in found:
        updated = time.strftime("%Y-%m-%d %H:%M", time.localtime(info.updated))
        table.add_row(
            str(info.id), info.title or "(untitled)", updated, str(info.turns), info.source
        )
    Console(soft_wrap=True).print(table)


@sessions_app.command("show", cls=PlainArgsCommand)
def sessions_show(
    session_id: Annotated[int, typer.Argument(metavar="ID", help="Session id.")],
    db: DbOpt = None,
) -> None:
    """Print a chat: messages, calls with their results, mid-answer messages."""
    store = open_store(db)
    try:
        typer.echo(to_markdown(store.load(session_id)), nl=False)
    except StoreError as exc:
        fail(str(exc))
    finally:
        store.close()


@sessions_app.command("export", cls=PlainArgsCommand)
def sessions_export(
    session_id: Annotated[int, typer.Argument(metavar="ID", help="Session id.")],
    fmt: Annotated[
        str, typer.Option("--format", "-f", metavar="[md|json|jsonl]", help="md, json or jsonl.")
    ] = "md",
    out: Annotated[
        Path | None, typer.Option("--out", "-o", metavar="FILE", help="File (default: stdout).")
    ] = None,
    db: DbOpt = None,
) -> None:
    """Export a chat as Markdown, JSON, or fine-tuning JSONL (as `asynclm traces`)."""
    if fmt not in FORMATS:
        fail(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")
    store = open_store(db)
    try:
        text = render(store.load(session_id), fmt)
    except StoreError as exc:
        fail(str(exc))
    finally:
        store.close()
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"--out: cannot write {out}: {exc.strerror or exc}")
    typer.echo(f"wrote session {session_id} to {out}")


@sessions_app.command("rename", cls=PlainArgsCommand)
def sessions_rename(
    session_id: Annotated[int, typer.Argument(metavar="ID", help="Session id.")],
    title: Annotated[str, typer.Argument(help="New title.")],
    db: DbOpt = None,
) -> None:
    """Give a chat a new title."""
    if not title.strip():
        fail("TITLE: must not be empty")
    store = open_store(db)
    try:
        store.rename(session_id, title)
    except StoreError as exc:
        fail(str(exc))
    finally:
        store.close()


@sessions_app.command("delete", cls=PlainArgsCommand)
def sessions_delete(
    session_id: Annotated[int, typer.Argument(metavar="ID", help="Session id.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
    db: DbOpt = None,
) -> None:
    """Delete a chat (asks first unless --yes)."""
    store = open_store(db)
    try:
        info = next((s for s in store.list_sessions() if s.id == session_id), None)
        if info is None:
            fail(f"no session {session_id} (see `asynclm sessions list`)")
        if not yes and not typer.confirm(
            f"Delete session {session_id} {info.title!r} ({info.turns} turns)?"
        ):
            raise typer.Exit(1)
        store.delete(session_id)
    except StoreError as exc:
        fail(str(exc))
    finally:
        store.close()
    typer.echo(f"deleted session {session_id}")
