"""``asynclm sessions ...``: list, show, export, rename and delete saved chats."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from asynclm_tui.cli.errors import CliError
from asynclm_tui.cli.flatten import flatten
from asynclm_tui.cli.options import SessionOptions
from asynclm_tui.cli.plain_help import PlainArgsCommand
from asynclm_tui.core.api.display import json_line, visible

if TYPE_CHECKING:
    from asynclm_tui.core.sessions.store import SessionStore

sessions_app = typer.Typer(
    help="Saved chats: list, show, export, rename, delete.", no_args_is_help=True
)


def open_store(db: Path | None) -> SessionStore:
    """The store at ``--db`` (or the default), which must exist.

    Raises:
        CliError: there is no database there yet.
        StoreError: it cannot be opened.
    """
    from asynclm_tui.core.sessions.store import SessionStore, StoreError, default_db_path

    path = db or default_db_path()
    try:
        return SessionStore(path, create=False)
    except StoreError:
        if not path.exists():
            raise CliError(f"{path}: no saved chats yet (chats are saved as you talk)") from None
        raise


@sessions_app.command("list")
@flatten("db", "search", "as_json")
def sessions_list(
    session: SessionOptions,
    search: Annotated[
        str, typer.Option("--search", "-s", metavar="TEXT", help="Only chats with this text.")
    ] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
) -> None:
    """Saved chats, most recent first: id, title, updated, turns."""
    from asynclm_tui.core.sessions.store import default_db_path

    path = session.db or default_db_path()
    if not path.exists():
        if as_json:
            return
        typer.echo(f"no saved chats yet ({path})")
        return
    store = open_store(session.db)
    try:
        found = store.list_sessions(search)
    finally:
        store.close()
    if as_json:
        for info in found:
            typer.echo(json_line(info.to_json()))
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


SessionIdArg = Annotated[int, typer.Argument(metavar="ID", help="Session id.")]
LatestIdArg = Annotated[
    int | None,
    typer.Argument(metavar="[ID]", show_default=False, help="Session id (default: the latest)."),
]


def chosen_or_latest(store: SessionStore, session_id: int | None) -> int:
    """``session_id``, or the most recently updated chat's when none is given."""
    if session_id is not None:
        return session_id
    latest = store.latest()
    if latest is None:
        raise CliError(f"{store.path}: no saved chats yet (chats are saved as you talk)")
    return latest


@sessions_app.command("show", cls=PlainArgsCommand)
@flatten("session_id", "db")
def sessions_show(session: SessionOptions, session_id: LatestIdArg = None) -> None:
    """Print a chat (the latest by default): messages, calls with their results,
    mid-answer messages."""
    from asynclm_tui.core.sessions.export import to_markdown

    store = open_store(session.db)
    try:
        typer.echo(to_markdown(store.load(chosen_or_latest(store, session_id))), nl=False)
    finally:
        store.close()


@sessions_app.command("export", cls=PlainArgsCommand)
@flatten("session_id", "fmt", "out", "db")
def sessions_export(
    session: SessionOptions,
    session_id: LatestIdArg = None,
    fmt: Annotated[
        str, typer.Option("--format", "-f", metavar="[md|json|jsonl]", help="md, json or jsonl.")
    ] = "md",
    out: Annotated[
        Path | None, typer.Option("--out", "-o", metavar="FILE", help="File (default: stdout).")
    ] = None,
) -> None:
    """Export a chat (the latest by default) as Markdown, JSON, or fine-tuning
    JSONL (as `asynclm traces`)."""
    from asynclm_tui.core.sessions.export import FORMATS, render

    if fmt not in FORMATS:
        raise CliError(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")
    store = open_store(session.db)
    try:
        session_id = chosen_or_latest(store, session_id)
        text = render(store.load(session_id), fmt)
    finally:
        store.close()
    if out is None:
        # A terminal shows the chat's text, never obeys it (the JSON formats
        # escape control characters already; a file or a pipe gets it exact).
        typer.echo(visible(text) if fmt == "md" and sys.stdout.isatty() else text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CliError(f"--out: cannot write {out}: {exc.strerror or exc}") from None
    typer.echo(f"wrote session {session_id} to {out}")


@sessions_app.command("rename", cls=PlainArgsCommand)
@flatten("session_id", "title", "db")
def sessions_rename(
    session: SessionOptions,
    session_id: SessionIdArg,
    title: Annotated[str, typer.Argument(help="New title.")],
) -> None:
    """Give a chat a new title."""
    if not title.strip():
        raise CliError("TITLE: must not be empty")
    store = open_store(session.db)
    try:
        store.rename(session_id, title)
    finally:
        store.close()


@sessions_app.command("delete", cls=PlainArgsCommand)
@flatten("session_id", "yes", "db")
def sessions_delete(
    session: SessionOptions,
    session_id: SessionIdArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
) -> None:
    """Delete a chat (asks first unless --yes)."""
    store = open_store(session.db)
    try:
        info = next((s for s in store.list_sessions() if s.id == session_id), None)
        if info is None:
            raise CliError(f"no session {session_id} (see `asynclm sessions list`)")
        if not yes and not typer.confirm(
            f"Delete session {session_id} {info.title!r} ({info.turns} turns)?"
        ):
            raise typer.Exit(1)
        store.delete(session_id)
    finally:
        store.close()
    typer.echo(f"deleted session {session_id}")
