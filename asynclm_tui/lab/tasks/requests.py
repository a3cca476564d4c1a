"""Natural requests for the shipped tools, and prompts that need no tool.

Each tool has phrasings (templates with slots) and slot values.  The held-out
split is made of *other templates*, not only other values, so it measures
whether the model learned the tool rather than the sentence.  Every request
knows the calls a correct answer makes (tool and arguments) and, given the
results, the sentence that reports them.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

HELD_OUT_SHARE = 0.25
"""Share of each tool's templates (and of the no-tool prompts) kept out of training."""


@dataclass(frozen=True)
class Request:
    """A held-out request, as the tool-choice benchmark reads it."""

    text: str
    tools: tuple[str, ...]
    """Expected tools (any order); empty: no tool should be called."""
    kind: str
    """``single``, ``pair`` or ``none``."""


@dataclass(frozen=True)
class Need:
    """One call a request needs, and how its result is reported."""

    tool: str
    kwargs: dict[str, Any]
    result: Callable[[random.Random], str]
    """A plausible result value (what the tool returns)."""
    report: Callable[[str], str]
    """The answer sentence, given the result."""
    doing: str = ""
    """What a failure stops, for the answer that says so (``get the weather``)."""
    acts: bool = False
    """The call changes something (sends, saves): the user may decline it."""
    key: str = ""
    """A value from the result that an answer using it repeats ('' when none)."""


@dataclass(frozen=True)
class ToolAsk:
    """A request for the shipped tools: its text and the calls it needs."""

    text: str
    needs: tuple[Need, ...]
    opener: str = ""
    """Optional words before the calls' results are in (``Let me check.``)."""
    template: str = ""


@dataclass
class _Pool:
    train: list[str] = field(default_factory=list)
    heldout: list[str] = field(default_factory=list)


CITIES: dict[str, str] = {
    "Tokyo": "Asia/Tokyo", "Paris": "Europe/Paris", "London": "Europe/London",
    "New York": "America/New_York", "Sydney": "Australia/Sydney", "Berlin": "Europe/Berlin",
    "Moscow": "Europe/Moscow", "Dubai": "Asia/Dubai", "Singapore": "Asia/Singapore",
    "Los Angeles": "America/Los_Angeles", "Chicago": "America/Chicago",
    "Toronto": "America/Toronto", "Sao Paulo": "America/Sao_Paulo", "Mumbai": "Asia/Kolkata",
    "Shanghai": "Asia/Shanghai", "Seoul": "Asia/Seoul", "Cairo": "Africa/Cairo",
    "Mexico City": "America/Mexico_City", "Madrid": "Europe/Madrid", "Rome": "Europe/Rome",
    "Istanbul": "Europe/Istanbul", "Bangkok": "Asia/Bangkok", "Jakarta": "Asia/Jakarta",
    "Nairobi": "Africa/Nairobi", "Lagos": "Africa/Lagos", "Johannesburg": "Africa/Johannesburg",
    "Auckland": "Pacific/Auckland", "Honolulu": "Pacific/Honolulu", "Denver": "America/Denver",
    "Vancouver": "America/Vancouver", "Lisbon": "Europe/Lisbon", "Stockholm": "Europe/Stockholm",
    "Athens": "Europe/Athens", "Hong Kong": "Asia/Hong_Kong", "Taipei": "Asia/Taipei",
    "Manila": "Asia/Manila", "Karachi": "Asia/Karachi",
    "Buenos Aires": "America/Argentina/Buenos_Aires",
    "Lima": "America/Lima", "Bogota": "America/Bogota", "Amsterdam": "Europe/Amsterdam",
    "Vienna": "Europe/Vienna", "Dublin": "Europe/Dublin", "Warsaw": "Europe/Warsaw",
    "Helsinki": "Europe/Helsinki", "Oslo": "Europe/Oslo", "Zurich": "Europe/Zurich",
    "Kyiv": "Europe/Kyiv", "Riyadh": "Asia/Riyadh", "Hanoi": "Asia/Bangkok",
}  # fmt: skip

_SKY = ["☀️", "⛅️", "☁️", "🌧", "⛈", "🌦", "🌫", "❄️"]
_SKY_WORDS = {
    "☀️": "sunny", "⛅️": "partly cloudy", "☁️": "cloudy", "🌧": "rainy",
    "⛈": "stormy", "🌦": "showery", "🌫": "foggy", "❄️": "snowy",
}  # fmt: skip

# ---------------------------------------------------------------- results


def _clock_result(zone: str) -> Callable[[random.Random], str]:
    def make(rng: random.Random) -> str:
        base = datetime(2026, 1, 1, tzinfo=ZoneInfo("UTC"))
        when = base + timedelta(minutes=rng.randrange(0, 365 * 24 * 60))
        return when.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S %Z (%A)")

    return make


def _clock_report(place: str) -> Callable[[str], str]:
    def report(value: str) -> str:
        parts = value.split()
        if len(parts) < 4:
            return f"The clock says {value}."
        day, hm = parts[3].strip("()"), parts[1][:5]
        where = f"In {place}" if place else "Right now"
        return f"{where} it is {hm} on {day} ({parts[0]})."

    return report


def _weather_result(city: str) -> Callable[[random.Random], str]:
    def make(rng: random.Random) -> str:
        return f"{city}: {rng.choice(_SKY)}  {rng.randint(-8, 36):+d}°C"

    return make


def _weather_report(city: str) -> Callable[[str], str]:
    def report(value: str) -> str:
        words = value.split()
        temp = words[-1] if words else value
        sky = next((_SKY_WORDS[s] for s in _SKY if s in value), "")
        if not temp.endswith("C"):
            return f"The weather report for {city} says: {value}."
        return f"In {city} it is {temp}{' and ' + sky if sky else ''}."

    return report


def _const(text: str) -> Callable[[random.Random], str]:
    return lambda _rng: text


def _listing(rng: random.Random) -> str:
    names = rng.sample(
        ["notes.md", "report.pdf", "main.py", "data.csv", "photo.jpg", "todo.txt",
         "build", "src", "README.md", "config.yaml", "song.mp3", "draft.docx"], 4
    )  # fmt: skip
    rows = [f"total {rng.randint(8, 400)}K"]
    for name in names:
        kind = "d" if "." not in name else "-"
        size = f"{rng.randint(1, 900)}{rng.choice('KM')}" if kind == "-" else "4.0K"
        rows.append(f"{kind}rw-r--r-- 1 user user {size} Nov {rng.randint(1, 30)} {name}")
    return "\n".join(rows)


def _listing_report(path: str) -> Callable[[str], str]:
    def report(value: str) -> str:
        names = [row.split()[-1] for row in value.splitlines()[1:] if row.strip()]
        where = path or "the current directory"
        if not names:
            return f"{where} looks empty."
        return f"{where} holds {', '.join(names[:-1])} and {names[-1]}."

    return report


# ---------------------------------------------------------------- calc

_NUMBER_WORDS = {
    "plus": "+", "minus": "-", "times": "*", "divided by": "/", "to the power of": "**",
}  # fmt: skip


def _calc_cases(rng: random.Random) -> tuple[str, str]:
    """(how the user says it, the expression)."""
    a, b = rng.randint(2, 999), rng.randint(2, 99)
    match rng.randrange(9):
        case 0:
            return f"{a}*{b}", f"{a}*{b}"
        case 1:
            word = rng.choice(list(_NUMBER_WORDS))
            return f"{a} {word} {b}", f"{a}{_NUMBER_WORDS[word]}{b}"
        case 2:
            e = rng.randint(2, 32)
            return f"2**{e}", f"2**{e}"
        case 3:
            n = rng.choice([16, 49, 81, 144, 169, 225, 361, 2, 10, 50])
            return f"the square root of {n}", f"sqrt({n})"
        case 4:
            p = rng.choice([5, 10, 15, 18, 20, 25, 12.5])
            return f"{p}% of {a}", f"{p}/100*{a}"
        case 5:
            c = rng.randint(2, 50)
            return f"({a} + {b}) * {c}", f"({a}+{b})*{c}"
        case 6:
            return f"{a * b} / {b}", f"{a * b}/{b}"
        case 7:
            return f"{a} - {b}", f"{a}-{b}"
        case _:
            n = rng.randint(3, 12)
            return f"{n} factorial", f"factorial({n})"


def _calc_report(said: str) -> Callable[[str], str]:
    return lambda value: f"{said} = {value}."


def _note_report(text: str) -> Callable[[str], str]:
    def report(value: str) -> str:
        if value.startswith("saved"):
            return f"Noted: {text}."
        return f"I could not save the note ({value})."

    return report


def _calc_value(expression: str) -> str:
    from asynclm_tui.core.tools.builtin import calc

    return calc(expression)


# ---------------------------------------------------------------- templates

CLOCK_TEMPLATES = [
    "What time is it in {city}?", "what's the time in {city}", "Current time in {city}?",
    "Tell me the time in {city}.", "Can you check what time it is in {city}?",
    "I need the local time in {city}.", "What day is it in {city} right now?",
    "time in {city} please", "Do you know the time in {city}?",
    "My friend lives in {city}. What time is it there?", "Is it late in {city} now?",
    "What's the date and time in {city}?", "Check the clock for {city}.",
    "How late is it in {city}?", "Give me the current time for {city}.",
    "What hour is it in {city} at the moment?", "Could you tell me the time in {city}?",
    "Is it morning or evening in {city} right now?", "Look up the time in {city}.",
    "what time is it over in {city}?", "Before I call {city}, what time is it there?",
    "What's today's date in {city}?", "Is it still daytime in {city}?",
    "Tell me the local date and time in {city}.",
]  # fmt: skip
CLOCK_UTC = [
    "What time is it?", "What's the time?", "What day is it today?", "What's today's date?",
    "Tell me the current time.", "What is the date today?", "time?", "Which weekday is it?",
    "What time is it in UTC?", "Current UTC time, please.", "Do you know what day it is?",
    "What's the date right now?",
]  # fmt: skip
CALC_TEMPLATES = [
    "What is {expr}?", "Compute {expr}.", "Calculate {expr}", "what's {expr}",
    "How much is {expr}?", "Can you work out {expr}?", "Quick math: {expr}",
    "I need {expr} worked out.", "Please evaluate {expr}.", "{expr} = ?",
    "Help me with this: {expr}", "Solve {expr} for me.", "What do you get for {expr}?",
    "Do the math: {expr}.", "What's the result of {expr}?", "Figure out {expr} please.",
    "What does {expr} come to?", "Could you calculate {expr} exactly?",
    "I'm splitting a bill. What's {expr}?", "Check my homework: what is {expr}?",
]  # fmt: skip
WEATHER_TEMPLATES = [
    "What's the weather in {city}?", "How is the weather in {city} today?",
    "Is it raining in {city}?", "weather {city}", "Will I need a jacket in {city} today?",
    "How hot is it in {city}?", "How cold is it in {city} right now?",
    "Tell me the weather for {city}.", "What's the temperature in {city}?",
    "Check the weather in {city} for me.", "Is it sunny in {city}?",
    "I'm flying to {city} today. What's the weather like?", "Current conditions in {city}?",
    "Should I bring an umbrella in {city}?", "Give me a weather report for {city}.",
    "What's it like outside in {city}?", "Is it snowing in {city}?",
    "Look up the forecast for {city}.", "How warm is it in {city} at the moment?",
    "weather report for {city} please",
]  # fmt: skip
LIST_TEMPLATES = [
    "What files are in {path}?", "List the files in {path}.", "Show me what's in {path}.",
    "ls {path}", "What's inside {path}?", "Which files do I have in {path}?",
    "Can you list the directory {path}?", "Look in {path} and tell me what's there.",
    "Show the contents of {path}.", "What is in the folder {path}?",
    "Give me a listing of {path}.", "Is there anything in {path}?",
]  # fmt: skip
LIST_HERE = [
    "What files are in the current directory?", "List the files here.", "ls",
    "What's in this folder?", "Show me the files in the working directory.",
    "Which files are here?", "List this directory.", "What do I have in this directory?",
]  # fmt: skip
PATHS = [
    "/tmp", "~/Documents", "~/Downloads", "/etc", "src", "~/projects", "/var/log", "docs",
    "~/Pictures", "/usr/local/bin", "tests", "~/music", "build", "/opt", "~/notes",
]  # fmt: skip
ECHO_TEMPLATES = [
    "Repeat after me: {text}", "Echo this back: {text}", "Say exactly this: {text}",
    "Please echo '{text}'.", "Repeat the text '{text}' exactly.", "echo {text}",
    "Can you repeat '{text}' word for word?", "Send back exactly: {text}",
    "Test the echo tool with '{text}'.", "Just repeat this back to me: {text}",
]  # fmt: skip
ECHO_TEXTS = [
    "hello world", "testing 123", "the quick brown fox", "good morning", "it works!",
    "ping", "asynclm is fast", "one two three", "see you later", "check check",
    "red green blue", "I love tea", "keep going", "all systems go", "hi there",
]  # fmt: skip
NOTE_TEMPLATES = [
    "Save a note: {text}", "Remember this: {text}", "Add '{text}' to my notes.",
    "Note: {text}.", "Please write down: {text}", "Make a note to {text}.",
    "Put '{text}' in my notes file.", "Jot this down: {text}", "Save this for later: {text}",
    "Please remember: {text}", "Add a note saying {text}.", "Write this in my notes: {text}",
]  # fmt: skip
NOTE_TEXTS = [
    "buy milk", "call mom on Sunday", "the meeting moved to 3pm", "renew my passport",
    "water the plants", "pay the electricity bill", "book a dentist appointment",
    "send the report to Anna", "pick up the dry cleaning", "back up the laptop",
    "try the new pasta place", "return the library books", "ask Sam about the budget",
]  # fmt: skip
SLEEP_TEMPLATES = [
    "Wait {n} seconds.", "Sleep for {ms} ms.", "Pause for {n} seconds, then tell me.",
    "Can you wait {n} seconds for me?", "sleep {ms}ms", "Take a {n} second break.",
    "Hold on for {n} seconds.", "Wait {ms} milliseconds please.",
    "Run the sleep tool for {n} seconds.", "Give me a {n} second timer.",
]  # fmt: skip

PAIR_JOINERS = [
    "{a} Also, {b}", "{a} And {b}", "{a} {b}", "{a} Then {b}", "{a} Oh, and {b}",
    "{a} Plus, {b}", "{a} and also {b}",
    # one sentence: the first request loses its closing mark ("... Tokyo and what is 12*34?")
    "{a0} and {b}", "{a0}, and {b}", "{a0}, then {b}", "{a0} and also {b}", "{a0}; {b}",
]  # fmt: skip
"""``{a0}`` is the first request without its final ``?``, ``.`` or ``!``."""

OPENERS = ["", "", "", "Let me check.", "One moment.", "Checking now.", "On it.",
           "Let me look that up.", "Sure.", "Working on it."]  # fmt: skip
MULTI_OPENERS = ["", "", "Checking both now.", "Let me look these up.", "One moment.",
                 "Working on both."]  # fmt: skip


def _split(items: list[str], rng: random.Random) -> _Pool:
    """Split templates into train and held-out (at least one held out)."""
    shuffled = items[:]
    rng.shuffle(shuffled)
    k = max(1, round(len(shuffled) * HELD_OUT_SHARE))
    return _Pool(train=shuffled[k:], heldout=shuffled[:k])


class RequestMaker:
    """Draws tool requests and no-tool prompts from one split."""

    def __init__(self, split: str, seed: int = 0) -> None:
        if split not in ("train", "heldout"):
            raise ValueError(f"split must be train or heldout, not {split!r}")
        self.split = split
        # The template split is fixed (seed 0 of its own), whatever ``seed`` draws.
        fixed = random.Random("asynclm-request-split")
        self._pools: dict[str, list[str]] = {
            name: getattr(_split(items, fixed), split)
            for name, items in (
                ("clock", CLOCK_TEMPLATES), ("utc", CLOCK_UTC), ("calc", CALC_TEMPLATES),
                ("weather", WEATHER_TEMPLATES), ("list", LIST_TEMPLATES), ("here", LIST_HERE),
                ("echo", ECHO_TEMPLATES), ("note", NOTE_TEMPLATES), ("sleep", SLEEP_TEMPLATES),
                ("none", NO_TOOL_PROMPTS), ("greet", GREETINGS), ("near", NEAR_TOOL_PROMPTS),
                ("city", CITY_TOPIC_TEMPLATES), ("more", MORE_NO_TOOL_PROMPTS),
            )
        }  # fmt: skip
        self.rng = random.Random(f"requests:{split}:{seed}")

    def _pick(self, pool: str) -> str:
        return self.rng.choice(self._pools[pool])

    def one(self, tool: str | None = None) -> ToolAsk:
        """A request for one tool (``tool`` or a random one)."""
        rng = self.rng
        tool = (
            tool
            or rng.choices(
                ["clock", "calc", "weather", "list_dir", "echo", "save_note", "sleep"],
                weights=[5, 5, 4, 2, 1, 1, 1],
            )[0]
        )
        match tool:
            case "clock":
                if rng.random() < 0.2:
                    t = self._pick("utc")
                    kwargs: dict[str, Any] = {} if rng.random() < 0.5 else {"timezone": "UTC"}
                    need = Need("clock", kwargs, _clock_result("UTC"), _clock_report("UTC"))
                    return ToolAsk(t, (need,), rng.choice(OPENERS), t)
                t = self._pick("clock")
                city = rng.choice(list(CITIES))
                need = Need(
                    "clock",
                    {"timezone": CITIES[city]},
                    _clock_result(CITIES[city]),
                    _clock_report(city),
                )
                return ToolAsk(t.format(city=city), (need,), rng.choice(OPENERS), t)
            case "calc":
                t = self._pick("calc")
                said, expr = _calc_cases(rng)
                value = _calc_value(expr)
                need = Need("calc", {"expression": expr}, _const(value), _calc_report(said))
                return ToolAsk(t.format(expr=said), (need,), rng.choice(OPENERS), t)
            case "weather":
                t = self._pick("weather")
                city = rng.choice(list(CITIES))
                need = Need("weather", {"city": city}, _weather_result(city), _weather_report(city))
                return ToolAsk(t.format(city=city), (need,), rng.choice(OPENERS), t)
            case "list_dir":
                if rng.random() < 0.3:
                    t = self._pick("here")
                    need = Need("list_dir", {}, _listing, _listing_report(""))
                    return ToolAsk(t, (need,), rng.choice(OPENERS), t)
                t = self._pick("list")
                path = rng.choice(PATHS)
                need = Need("list_dir", {"path": path}, _listing, _listing_report(path))
                return ToolAsk(t.format(path=path), (need,), rng.choice(OPENERS), t)
            case "echo":
                t = self._pick("echo")
                text = rng.choice(ECHO_TEXTS)
                need = Need("echo", {"text": text}, _const(text), lambda v: f"{v}")
                return ToolAsk(t.format(text=text), (need,), "", t)
            case "save_note":
                t = self._pick("note")
                text = rng.choice(NOTE_TEXTS)
                need = Need(
                    "save_note",
                    {"text": text},
                    _const("saved to /home/user/asynclm-notes.md"),
                    _note_report(text),
                )
                return ToolAsk(t.format(text=text), (need,), rng.choice(OPENERS), t)
            case _:
                t = self._pick("sleep")
                n = rng.choice([1, 2, 3, 5, 10])
                ms = n * 1000 if "{n}" in t else rng.choice([200, 500, 1500, 2500, 4000])
                need = Need(
                    "sleep",
                    {"ms": ms},
                    _const(f"slept {ms + rng.randint(0, 3)} ms"),
                    lambda v: f"Done: I {v}.",
                )
                return ToolAsk(t.format(n=n, ms=ms), (need,), rng.choice(OPENERS), t)

    def pair(self) -> ToolAsk:
        """Two requests in one message (two tools, or one tool twice)."""
        rng = self.rng
        first = self.one()
        second = self.one()
        for _ in range(5):  # the same tool with the same arguments is one call
            if (second.needs[0].tool, second.needs[0].kwargs) != (
                first.needs[0].tool,
                first.needs[0].kwargs,
            ):
                break
            second = self.one()
        joiner = rng.choice(PAIR_JOINERS)
        lower = "{a} {b}" not in joiner or rng.random() < 0.3
        b = second.text[0].lower() + second.text[1:] if lower else second.text
        text = joiner.format(a=first.text, a0=first.text.rstrip("?.! "), b=b)
        return ToolAsk(text, (*first.needs, *second.needs), rng.choice(MULTI_OPENERS), "pair")

    def no_tool(self) -> str:
        """A prompt no shipped tool helps with: a greeting, a question or a writing
        task, some of them about the tools' topics (time, weather, files, cities)."""
        pool = self.rng.choices(
            ["greet", "none", "near", "city", "more"], weights=[15, 30, 20, 15, 20]
        )[0]
        text = self._pick(pool)
        return text.format(city=self.rng.choice(TOPIC_CITIES)) if pool == "city" else text


GREETINGS = [
    "hi", "Hello!", "hey there", "Good morning!", "How are you?", "Thanks!", "thank you so much",
    "Who are you?", "What can you do?", "Nice to meet you.", "good night", "Hello, how's it going?",
    "yo", "Thanks, that helped.", "ok cool", "Bye!",
]  # fmt: skip
NO_TOOL_PROMPTS = [
    "What is the capital of France?", "Why is the sky blue?", "Who wrote Hamlet?",
    "What is photosynthesis?", "Write a haiku about autumn.", "Give me a name for a cat.",
    "Write a short birthday message for my sister.", "Explain what a CPU does.",
    "What is Python?", "What is a prime number?", "How does a calculator work?",
    "What does the echo command do in a shell?", "Why do we need sleep?",
    "What is a time zone?", "What causes rain?", "Tell me a joke.",
    "Write a two-line poem about the sea.", "What is the boiling point of water?",
    "Name three fruits that are red.", "What is the largest planet?",
    "How many days are in a week?", "Translate 'thank you' into Spanish.",
    "What is the difference between weather and climate?", "Give me a tip for studying.",
    "What is an API?", "Explain recursion in one sentence.", "What is the moon made of?",
    "Suggest a healthy breakfast.", "What does HTTP stand for?", "Who painted the Mona Lisa?",
    "What is gravity?", "Write a short motivational quote.", "What is a noun?",
    "How do I boil an egg?", "What is the speed of light?", "What language is spoken in Brazil?",
    "Describe a sunset in one sentence.", "What is machine learning?",
    "What is a good name for a coffee shop?", "Why do leaves change color in autumn?",
    "What is the tallest mountain in the world?", "Give me an idea for a weekend hobby.",
    "What is DNA?", "How do plants drink water?", "What is an atom?",
    "Write a thank-you note to a teacher.", "What is the opposite of 'ancient'?",
    "How many continents are there?", "What is a verb?", "Explain what a file system is.",
    "What is the main ingredient of guacamole?", "What year did humans land on the moon?",
    "Tell me a fun fact about octopuses.", "What is a clock made of?",
    "Why is exercise good for you?", "What is the freezing point of water in Fahrenheit?",
    "What is an umbrella for?", "Who was Albert Einstein?", "What is democracy?",
    "Explain what a note-taking app is.", "What does a meteorologist do?",
    "Write a sentence using the word 'brave'.", "What is inflation?",
    "What is the chemical symbol for gold?", "Recommend a classic novel.",
    "What is a directory on a computer?", "Why do cats purr?", "What is a rainbow?",
]  # fmt: skip


NEAR_TOOL_PROMPTS = [
    "Why do time zones exist?", "Who invented the mechanical clock?",
    "What is daylight saving time?", "How do weather forecasts work?", "What is a hurricane?",
    "Why is it colder in winter?", "Who invented the calculator?", "What is algebra?",
    "Explain what a percentage is.", "What does the word 'echo' mean?",
    "How do I take good notes in class?", "Give me tips for sleeping better.",
    "How many hours of sleep does an adult need?", "What is a leap year?",
    "Write a poem about the rain.", "Write a short story about a clock that stopped.",
    "What should I wear on a rainy day?", "Translate 'good morning' into French.",
    "What is an even number?", "When was the telephone invented?", "What is a thermometer?",
    "How do I organize files on my computer?", "What is a stopwatch?",
    "Why does the moon change shape?", "What is the history of the calendar?",
    "What is a fraction?", "Write a limerick about a sleepy cat.",
    "Why do people keep a diary?", "What is a weather balloon?",
    "What does a file extension mean?", "Who was the first person to measure time?",
    "What is the difference between a minute and an hour?",
]  # fmt: skip
"""No-tool prompts on the tools' own topics: about time, weather, math, notes or
files, but asking for knowledge or writing, not for a lookup."""
CITY_TOPIC_TEMPLATES = [
    "What is {city} famous for?", "Tell me a fun fact about {city}.",
    "What language do people speak in {city}?", "Suggest three things to see in {city}.",
    "What food is {city} known for?", "Write a short poem about {city}.",
    "What country is {city} in?", "Give me a one-sentence history of {city}.",
]  # fmt: skip
"""No-tool prompts that name a city, as clock and weather requests do."""
TOPIC_CITIES = ["Tokyo", "Paris", "London", "New York", "Rome"]


MORE_NO_TOOL_PROMPTS = [
    # programming
    "How do I reverse a list in Python?", "What is a Git branch?",
    "Explain the difference between a list and a tuple.",
    "Write a Python function that checks if a word is a palindrome.",
    "What does git rebase do?", "How do I center a div in CSS?", "What is a race condition?",
    "What is JSON?", "Explain what a hash map is.", "What is the difference between TCP and UDP?",
    "Write a SQL query that counts the rows in a table.", "What does async mean in programming?",
    "How do I read a file line by line in Python?", "What is a unit test?",
    "What's a regular expression?", "Why would I use a virtual environment?",
    # writing
    "Write a short apology email for missing a meeting.",
    "Draft a tweet announcing our new bakery.", "Write a four-line poem about coffee.",
    "Help me write the first line of a cover letter.",
    "Rewrite this to sound friendlier: 'Send me the file now.'",
    "Summarize the plot of Romeo and Juliet in two sentences.",
    "Write a toast for my best friend's wedding.",
    "Give me a catchy title for a blog post about gardening.",
    "Write a product description for a blue water bottle.",
    "Write a bedtime story about a brave little turtle.", "Come up with a slogan for a bike shop.",
    "Write a polite note to a neighbour about noise.",
    # advice
    "How can I be more productive in the morning?", "What should I pack for a beach holiday?",
    "How do I ask my boss for a raise?", "Any tips for a job interview?",
    "How do I keep houseplants alive?", "How can I save money on groceries?",
    "What's a good way to learn a new language?", "How do I stop procrastinating?",
    "How should I train for a marathon?", "What are some good habits for mental health?",
    "How do I make friends in a new city?", "What's a good gift for a ten-year-old?",
    # knowledge
    "Who discovered penicillin?", "What is the Pythagorean theorem?", "How do vaccines work?",
    "What is the largest ocean?", "Why do we have seasons?", "What is the stock market?",
    "What did the ancient Romans eat?", "How do airplanes stay in the air?",
    "What is the difference between a virus and a bacterium?", "Who was Cleopatra?",
    "What is a black hole?", "How many bones are in the human body?",
    "What is the Great Wall of China?", "What is the smallest country in the world?",
    "What does the heart do?", "Why is the ocean salty?",
    # about time, but not asking for it
    "What's a good time of day to exercise?", "How do I stop being late all the time?",
    "What is jet lag and how do I beat it?", "Why does time seem to go faster as we get older?",
    "How did people tell time before clocks?", "What is Greenwich Mean Time?",
    "How do I set an alarm on my phone?", "What's the best season to visit Japan?",
    "How long should a power nap be?", "What is a sundial?",
    # about weather, but not asking for a report
    "Why does thunder follow lightning?", "How do clouds form?", "What is a tornado?",
    "What is the hottest place on Earth?", "How do I dress for cold weather?",
    "What's the difference between fog and mist?", "Why is the weather hard to predict?",
    "What is El Nino?", "What does a barometer measure?", "Write a poem about snow.",
    # about math, but nothing to compute
    "What is calculus used for?", "Explain what a square root is.", "What is pi?",
    "Why can't you divide by zero?", "What is the difference between mean and median?",
    "How do I get better at mental math?", "What is a logarithm?",
    "Explain what an exponent is.", "Who was Euclid?", "What is probability?",
    # about files and notes, but nothing to list or save
    "What is the best way to take notes?", "How do I back up my photos?",
    "What's the difference between a file and a folder?", "How do I free up disk space?",
    "What is cloud storage?", "What is a PDF?", "How should I name files so I can find them?",
    "What is the Cornell note-taking system?", "How do I zip a folder?",
    "Why do computers use folders?",
    # about echoes and sleep
    "What is an echo chamber?", "Why do echoes happen?", "How can I fall asleep faster?",
    "What happens in the brain during sleep?", "Is it bad to sleep with the lights on?",
    "What is a sleep cycle?",
    # conversation
    "Can you explain that more simply?", "That's interesting, tell me more.",
    "I'm bored. Any ideas?", "I feel stressed today.", "What do you think about cats?",
    "Do you like music?", "Tell me something surprising.",
    "Can you help me think through a decision?", "I just got a new puppy!",
    "What's your favorite book?", "Let's play a word game.", "Guess what? I passed my exam!",
    # places, with cities the clock and weather requests also name
    "What is the history of Berlin?", "Is Sydney the capital of Australia?",
    "What's a good dish to try in Mexico City?", "How big is Istanbul?",
    "Plan a three-day trip to Lisbon.", "What river runs through Cairo?",
    "Why is Venice full of canals?", "What should I know before visiting Bangkok?",
    "Which is older, London or Paris?", "What is Dubai known for?",
]  # fmt: skip
"""More no-tool prompts, kept apart so the older lists keep their split: programming,
writing, advice, knowledge, conversation and more on the tools' own topics."""


def no_tool_prompts() -> list[str]:
    """Every no-tool prompt :meth:`RequestMaker.no_tool` can draw (both splits)."""
    cities = [t.format(city=c) for t in CITY_TOPIC_TEMPLATES for c in TOPIC_CITIES]
    return list(
        dict.fromkeys(
            [*GREETINGS, *NO_TOOL_PROMPTS, *NEAR_TOOL_PROMPTS, *cities, *MORE_NO_TOOL_PROMPTS]
        )
    )


def heldout_requests(seed: int = 0, *, per_kind: int = 40) -> list[Request]:
    """Held-out requests for ``asynclm bench tools``: single-tool, two-tool and
    no-tool prompts from templates that never enter training."""
    maker = RequestMaker("heldout", seed)
    out: list[Request] = []
    seen: set[str] = set()
    kinds: list[tuple[str, Callable[[], Request]]] = [
        ("single", lambda: _as_request(maker.one(), "single")),
        ("pair", lambda: _as_request(maker.pair(), "pair")),
        ("none", lambda: Request(maker.no_tool(), (), "none")),
    ]
    for _kind, draw in kinds:
        made = 0
        for _ in range(per_kind * 20):
            req = draw()
            if req.text in seen:
                continue
            seen.add(req.text)
            out.append(req)
            made += 1
            if made == per_kind:
                break
    return out


def _as_request(ask: ToolAsk, kind: str) -> Request:
    return Request(ask.text, tuple(dict.fromkeys(n.tool for n in ask.needs)), kind)
