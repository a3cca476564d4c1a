"""What a conversation keeps across its turns, on the decode thread."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from asynclm_tui.core.decode.mailbox import Pending


@dataclass
class Session:
    """What persists across turns: history, used ids, calls still due."""

    serial: int = 1
    """Tags this session's calls, so a later session never sees their results."""
    messages: list[dict[str, str]] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    outstanding: set[str] = field(default_factory=set)
    """Calls whose results have not been injected yet (across turns)."""
    turns: int = 0
    anonymous: int = 0
    withheld: set[str] = field(default_factory=set)
    """Calls left by a turn that ended early: their results stay out of the
    context unless the user keeps them (``KeepResults``)."""
    withheld_results: dict[str, Pending] = field(default_factory=dict)
    """Finished results of ``withheld`` calls."""
    dropped: set[str] = field(default_factory=set)
    """Withheld calls the next turn started without: never injected."""
    background: set[str] = field(default_factory=set)
    """Calls that outlived their answer and whose results are not in yet."""

    @classmethod
    def continuing(
        cls, serial: int, history: Iterable[Mapping[str, str]], call_ids: Iterable[str]
    ) -> Session:
        """Session ``serial``, continuing a saved chat's ``history`` (empty:
        a new chat) with the call ids it used."""
        messages = [dict(m) for m in history]
        ids = set(call_ids)
        return cls(
            serial=serial,
            messages=messages,
            ids=ids,
            # One answer per turn (a turn started by results answers their notice).
            turns=sum(1 for m in messages if m.get("role") == "assistant"),
            anonymous=sum(1 for c in ids if c.startswith("~")),
        )
