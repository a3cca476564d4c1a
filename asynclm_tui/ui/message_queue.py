"""Messages queued for after the running answer (Tab), in order.

Pure data with change listeners, so a view can redraw and a store can save
the queue as it changes (a queued message must survive a crash). A message
leaves the queue only when it is sent or the user removes it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class QueuedMessage:
    """One queued message; ``id`` stays the same when its text is edited."""

    id: int
    text: str


Listener = Callable[[tuple[QueuedMessage, ...]], None]


class MessageQueue:
    """An ordered, editable queue of messages typed while the model answers."""

    def __init__(self) -> None:
        self._items: list[QueuedMessage] = []
        self._ids = itertools.count(1)
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener`` with every message after each change."""
        self._listeners.append(listener)

    @property
    def items(self) -> tuple[QueuedMessage, ...]:
        """The queued messages, first to be sent first."""
        return tuple(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def _changed(self) -> None:
        items = self.items
        for listener in self._listeners:
            listener(items)

    def add(self, text: str) -> QueuedMessage:
        """Queue ``text`` last."""
        item = QueuedMessage(next(self._ids), text)
        self._items.append(item)
        self._changed()
        return item

    def restore(self, texts: list[str]) -> None:
        """Queue saved messages (e.g. from a resumed session), in order."""
        self._items += [QueuedMessage(next(self._ids), t) for t in texts]
        self._changed()

    def edit(self, item_id: int, text: str) -> bool:
        """Replace a message's text in place; False when it is gone (sent)."""
        for i, item in enumerate(self._items):
            if item.id == item_id:
                self._items[i] = QueuedMessage(item_id, text)
                self._changed()
                return True
        return False

    def remove(self, item_id: int) -> QueuedMessage | None:
        """Take a message out of the queue (the user removed it)."""
        for item in self._items:
            if item.id == item_id:
                self._items.remove(item)
                self._changed()
                return item
        return None

    def pop(self) -> QueuedMessage | None:
        """The next message to send, removed from the queue."""
        if not self._items:
            return None
        item = self._items.pop(0)
        self._changed()
        return item

    def take_all(self) -> list[QueuedMessage]:
        """Every message, removed (to give them back to the input box)."""
        items, self._items = self._items, []
        if items:
            self._changed()
        return items
