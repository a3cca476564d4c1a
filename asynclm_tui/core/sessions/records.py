"""Engine events to and from the rows of the replay log.

The replay log keeps a turn's events so a resumed chat is drawn by the same
code that drew it live (chips, calls panel, timeline).  Consecutive tokens are
stored as one text record.  Fields a class no longer has are ignored, and a
record that no longer fits its class is skipped, so old logs stay readable.
"""

from __future__ import annotations

import dataclasses
import json
from enum import StrEnum
from typing import Any

from asynclm_tui.core.api import events as ev
from asynclm_tui.core.api.delivery import CallBackgrounded, ResultHeld
from asynclm_tui.core.api.enums import CallStatus, Deliver, DeliverIdle
from asynclm_tui.core.api.events import (
    Event,
)

REPLAYED: dict[str, type[Event]] = {
    cls.name: cls
    for cls in (
        ev.TurnStarted,
        ev.Prefilled,
        ev.Token,
        ev.CallIssued,
        ev.CallUpdated,
        ev.CallFinished,
        ev.Interrupt,
        ev.UserMessage,
        ev.Trapped,
        ev.Resumed,
        ev.TurnDone,
        ev.TurnFailed,
        ev.ContextSlid,
        CallBackgrounded,
        ResultHeld,
    )
}
"""Event kinds kept in the replay log, by their ``name``."""


_ENUMS: dict[str, type[StrEnum]] = {
    "status": CallStatus,
    "deliver": Deliver,
    "deliver_idle": DeliverIdle,
}
"""Fields stored as their enum's value."""


def to_record(event: Event) -> tuple[str, str]:
    """``(kind, json)`` for one event."""
    data = {f.name: getattr(event, f.name) for f in dataclasses.fields(event)}
    return event.name, json.dumps(data, ensure_ascii=False, default=str)


def from_record(kind: str, data: dict[str, Any]) -> Event | None:
    """The event a record stands for, or None if its kind or fields are unknown."""
    cls = REPLAYED.get(kind)
    if cls is None:
        return None
    known = {f.name: f for f in dataclasses.fields(cls)}
    args = {k: v for k, v in data.items() if k in known}
    for name, enum in _ENUMS.items():
        if name in args:
            try:
                args[name] = enum(args[name])
            except ValueError:
                return None
    for name in ("pending", "args", "started_by"):
        if isinstance(args.get(name), list):
            args[name] = tuple(args[name])
    if cls is ev.CallIssued and isinstance(args.get("args"), dict):
        args["kwargs"], args["args"] = args["args"], ()  # recorded before positional args
    try:
        return cls(**args)
    except TypeError:
        return None


def record_data(text: str) -> dict[str, Any]:
    """Parse a stored record (damaged JSON reads as an empty record)."""
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
