"""The queue of messages typed for after the answer: order, edits, listeners."""

from __future__ import annotations

from asynclm_tui.ui.message_queue import MessageQueue, QueuedMessage


def test_messages_keep_their_order_and_place_when_edited() -> None:
    queue = MessageQueue()
    seen: list[tuple[QueuedMessage, ...]] = []
    queue.subscribe(seen.append)
    a, b, c = queue.add("a"), queue.add("b"), queue.add("c")
    assert queue.edit(b.id, "B") and [i.text for i in queue.items] == ["a", "B", "c"]
    assert queue.remove(a.id) == a
    assert queue.pop() == QueuedMessage(b.id, "B")
    assert [i.text for i in seen[-1]] == ["c"]  # every change is reported
    assert not queue.edit(b.id, "gone")  # already sent: nothing to edit
    assert queue.take_all() == [c] and len(queue) == 0 and queue.pop() is None
    assert len(seen) == 7


def test_restored_messages_get_fresh_ids() -> None:
    queue = MessageQueue()
    first = queue.add("x")
    queue.restore(["y", "z"])
    assert [i.text for i in queue.items] == ["x", "y", "z"]
    assert len({i.id for i in queue.items}) == 3 and first.id == 1
