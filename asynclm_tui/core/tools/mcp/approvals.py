"""Remembered approvals of MCP tools: "always this tool" and "always this server".

Kept in ``$XDG_STATE_HOME/asynclm/mcp-approvals.json``, keyed by the server's
name and a fingerprint of what it runs (its command or URL), so a server
renamed onto another program asks again.  A file that cannot be read as ours
is never overwritten: approvals then live for the session only, and the log
says why.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from asynclm_tui.core.settings import paths

log = logging.getLogger("asynclm.mcp")

VERSION = 1


def default_path() -> Path:
    """Where remembered approvals live."""
    return paths.user_state_dir() / "mcp-approvals.json"


class ApprovalStore:
    """Thread-safe, persisted "always" answers for MCP tools."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_path()
        self._lock = threading.Lock()
        self._writable = True
        self._data: dict[str, dict[str, Any]] = self._load()

    def _load(self) -> dict[str, dict[str, Any]]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            self._writable = False
            log.warning(
                "MCP approvals in %s not read (%s); nothing will be remembered", self.path, exc
            )
            return {}
        servers = raw.get("servers") if isinstance(raw, dict) else None
        if not isinstance(servers, dict) or raw.get("version") != VERSION:
            self._writable = False
            log.warning("MCP approvals in %s are not in a known format; left alone", self.path)
            return {}
        return {k: v for k, v in servers.items() if isinstance(v, dict)}

    @staticmethod
    def key(server: str, fingerprint: str) -> str:
        """The entry of one server running one program."""
        return f"{server}#{fingerprint}"

    def allowed(self, key: str, tool: str) -> bool:
        """Whether ``tool`` of the server ``key`` runs without asking."""
        with self._lock:
            entry = self._data.get(key, {})
            return bool(entry.get("all")) or tool in entry.get("tools", ())

    def allow_tool(self, key: str, tool: str) -> None:
        """Remember "always this tool"."""
        with self._lock:
            entry = self._data.setdefault(key, {})
            tools = set(entry.get("tools", ()))
            tools.add(tool)
            entry["tools"] = sorted(tools)
            self._save()

    def allow_server(self, key: str) -> None:
        """Remember "always this server" (every tool it has or will have)."""
        with self._lock:
            self._data.setdefault(key, {})["all"] = True
            self._save()

    def forget(self, key: str) -> None:
        """Ask again for every tool of this server."""
        with self._lock:
            if self._data.pop(key, None) is not None:
                self._save()

    def _save(self) -> None:
        if not self._writable:
            return
        payload = json.dumps({"version": VERSION, "servers": self._data}, indent=1, sort_keys=True)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".mcp-approvals.", dir=self.path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(payload)
            os.replace(tmp, self.path)
        except OSError as exc:
            log.warning("MCP approvals not saved to %s: %s", self.path, exc)
