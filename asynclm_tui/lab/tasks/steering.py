"""Steering: messages typed while an answer is being written.

The answers steered are the base model's own (stories, poems, lists, guides,
distilled like the no-tool answers) or tool answers.  Each message is one of:

- ``correct``: fix a detail (``Make the dragon's name Bob.``): the rest of the
  answer uses the new detail;
- ``switch``: change the subject (``Actually, write about a whale instead.``);
- ``mention``: add a constraint (``Also mention that it loves apples.``);
- ``stop``: stop or shorten (``That's enough, thanks.``): a brief word and the end;
- ``call``: add a request that needs a tool (``Also, what time is it in Oslo?``).

Each has a checkable criterion for ``asynclm bench tools``: the text written
after the message (in the same answer) contains the new detail, a word of the
new subject, the mentioned word; the answer ends within :data:`STOP_WITHIN`
visible tokens; the right tool is called.  Content prompts are split like the
tool phrasings: a fixed quarter is held out of training.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

STOP_WITHIN = 30
"""A stop or shorten message is taken up when the answer ends within this
many visible tokens after it."""
HELD_OUT_SHARE = 0.25


@dataclass(frozen=True)
class Content:
    """An answer to steer: its prompt and the detail a user may correct."""

    prompt: str
    detail: str
    """The word a ``correct`` message replaces (a name, a city); '' for none."""
    what: str
    """How the user names the detail (``the dragon's name``)."""
    others: tuple[str, ...]
    """Replacements a user might ask for."""


def _story(template: str, what: str, names: tuple[str, ...]) -> list[Content]:
    return [
        Content(template.format(name=n), n, what, tuple(o for o in names if o != n))
        for n in names[:2]
    ]


_NAMES = ("Max", "Luna", "Bob", "Ziggy", "Pip", "Nora")
_CITIES = ("Lisbon", "Kyoto", "Prague", "Vienna", "Montreal")

CONTENTS: tuple[Content, ...] = (
    *_story("Write a short story about a dragon named {name}.", "the dragon's name", _NAMES),
    *_story("Tell me a story about a robot called {name}.", "the robot's name", _NAMES),
    *_story("Write a bedtime story about a cat named {name}.", "the cat's name", _NAMES),
    *_story("Write a short story about a girl named {name} who finds a map.", "her name",
            ("Mia", "Ana", "Zoe", "Ida")),
    *_story("Write a poem about a dog named {name}.", "the dog's name", _NAMES),
    *_story("Tell me a story about a knight called {name}.", "the knight's name",
            ("Arthur", "Elric", "Gwen", "Tristan")),
    *_story("Write a short story about a fox named {name} in the forest.", "the fox's name",
            _NAMES),
    *_story("Write a story about a pirate captain named {name}.", "the captain's name",
            ("Flint", "Morgan", "Anne", "Silver")),
    *_story("Describe a weekend trip to {name}.", "the city", _CITIES),
    *_story("Write a short travel guide for {name}.", "the city", _CITIES),
    *_story("Write a postcard from {name} to a friend.", "the city", _CITIES),
    *_story("Write a short story about an astronaut named {name}.", "the astronaut's name",
            ("Kira", "Leo", "Sam", "Vera")),
    Content("List ten animals that live in the ocean.", "", "", ()),
    Content("Give me a list of ideas for a birthday party.", "", "", ()),
    Content("List some tips for sleeping better.", "", "", ()),
    Content("Explain how rain forms.", "", "", ()),
    Content("Write a short essay about the history of bicycles.", "", "", ()),
    Content("Give me five ideas for a rainy day.", "", "", ()),
    Content("Describe how to make pancakes.", "", "", ()),
    Content("Write a short story about a lighthouse keeper.", "", "", ()),
    Content("List the planets of the solar system with a fact about each.", "", "", ()),
    Content("Explain how a bicycle works.", "", "", ()),
    Content("Write a short poem about the ocean.", "", "", ()),
    Content("Give me a packing list for a camping trip.", "", "", ()),
)  # fmt: skip

SWITCH_SUBJECTS: tuple[tuple[str, str, str], ...] = (
    ("a whale", "whale", "Write a short story about a whale."),
    ("a haunted house", "house", "Write a short story about a haunted house."),
    ("space travel", "space", "Write a short text about space travel."),
    ("a lost kitten", "kitten", "Write a short story about a lost kitten."),
    ("the moon", "moon", "Write a short poem about the moon."),
    ("volcanoes", "volcano", "Explain how volcanoes work."),
    ("a clumsy wizard", "wizard", "Write a short story about a clumsy wizard."),
    ("winter", "winter", "Write a short poem about winter."),
    ("trains", "train", "Write a short text about trains."),
    ("a bakery", "bake", "Write a short story about a bakery."),
)
"""(how the user names it, the word the new answer must contain, the prompt
whose distilled answer continues)."""

MENTIONS: tuple[tuple[str, str], ...] = (
    ("the color purple", "purple"), ("a red umbrella", "umbrella"), ("a tiny mouse", "mouse"),
    ("the number seven", "seven"), ("a rainbow", "rainbow"), ("a golden key", "key"),
    ("a secret door", "door"), ("pancakes", "pancake"), ("a thunderstorm", "storm"),
    ("an old guitar", "guitar"),
)  # fmt: skip

CORRECT_LINES = (
    "Make {what} {new}.",
    "Actually, change {what} to {new}.",
    "Wait, {what} should be {new}.",
    "Sorry, I meant {new}.",
    "Use {new} instead.",
    "Call it {new}, please.",
    "Let's make {what} {new}.",
    "Oops, {new}, not {old}.",
)
SWITCH_LINES = (
    "Actually, write about {subject} instead.",
    "Change of plan: tell me about {subject}.",
    "Never mind, make it about {subject}.",
    "Can you switch to {subject}?",
    "Stop that, I'd rather hear about {subject}.",
    "Forget it, do {subject} instead.",
)
MENTION_LINES = (
    "Also mention {thing}.",
    "Put {thing} in it too.",
    "Can you include {thing}?",
    "Add {thing} somewhere.",
    "Make sure {thing} is in there.",
)
STOP_LINES = (
    "That's enough, thanks.",
    "Stop, please.",
    "ok stop",
    "Keep it short.",
    "Just finish quickly.",
    "Make it shorter.",
    "You can stop now.",
    "Wrap it up please.",
    "Too long, end it there.",
)
CALL_LEADS = ("Also, ", "And ", "Oh, and ", "One more thing: ", "By the way, ", "")

CORRECT_ACKS = ("Sure, {new} it is.", "Okay, {new} then.", "Got it: {new}.", "Of course, {new}.")
SWITCH_ACKS = ("Okay, {subject} instead.", "Sure, let's switch to {subject}.",
               "Alright, here is one about {subject}.", "Of course. {Subject}:")  # fmt: skip
MENTION_ACKS = ("Sure.", "Okay, adding {thing}.", "Of course.", "Good idea.")
STOP_ACKS = ("Okay, I'll stop here.", "Sure, I'll keep it short.", "Alright, that's all then.",
             "Okay, ending here.", "Got it, stopping now.")  # fmt: skip
CALL_ACKS = ("Sure, checking that too.", "Okay, one moment.", "On it.", "Let me check that too.",
             "", "")  # fmt: skip


def split_contents(split: str) -> list[Content]:
    """The content prompts of ``split`` (a fixed quarter held out)."""
    fixed = random.Random("asynclm-steering-split")
    items = list(CONTENTS)
    fixed.shuffle(items)
    k = round(len(items) * HELD_OUT_SHARE)
    return items[:k] if split == "heldout" else items[k:]


def split_half(items: tuple[str, ...], split: str, salt: str) -> list[str]:
    """A fixed quarter of a message list held out of training."""
    fixed = random.Random(f"asynclm-steering:{salt}")
    shuffled = list(items)
    fixed.shuffle(shuffled)
    k = max(1, round(len(shuffled) * HELD_OUT_SHARE))
    return shuffled[:k] if split == "heldout" else shuffled[k:]


def content_prompts() -> list[str]:
    """Every prompt whose base-model answer steering needs (both splits)."""
    return list(dict.fromkeys([*(c.prompt for c in CONTENTS), *(p for *_, p in SWITCH_SUBJECTS)]))


def replace_word(text: str, old: str, new: str) -> str:
    """``text`` with the whole word ``old`` replaced by ``new``."""
    return re.sub(rf"\b{re.escape(old)}\b", new, text)


def mentions_word(text: str, word: str) -> bool:
    """Whether ``text`` holds ``word`` at a word start (``whale`` in ``whales``)."""
    return re.search(rf"\b{re.escape(word)}", text, re.IGNORECASE) is not None


_INTERRUPT = re.compile(r" ?\[INTR\] (\S+) \[HEAD\] .*? \[END\]", re.S)


def answer_goes_on(text: str, min_words: int = 3) -> bool:
    """Whether an answer's ``text`` (as the engine stores it) goes on after its
    last user message: a call, or at least ``min_words`` words of its own
    (the text form of the engine's follow-up rule)."""
    last = None
    for m in _INTERRUPT.finditer(text):
        if m.group(1) == "user":
            last = m
    if last is None:
        return True
    after = _INTERRUPT.sub(" ", text[last.end() :])
    plain = re.sub(r"\[CALL\].*?\[END\]|\[TRAP\]\[END\]", " ", after, flags=re.S)
    return "[CALL]" in after or len(plain.split()) >= min_words
