"""Held-out tool kinds: never in the training set, only in ``asynclm bench tools``.

Their names, descriptions, schemas and phrasings appear nowhere in training,
so the benchmark's "unseen tools" measure whether the model reads a tool list
it has never seen.  Several are near-misses of shipped tools on purpose: air
quality beside ``weather``, unit conversion and dice beside ``calc``, days
until a date beside ``clock``, train departures beside ``clock``.
"""

from __future__ import annotations

import random
from typing import Any

from asynclm_tui.lab.tasks.kinds import Kind, P, Spec

_UNITS = {("miles", "km"): 1.609344, ("kg", "pounds"): 2.20462, ("feet", "meters"): 0.3048,
          ("liters", "gallons"): 0.264172, ("inches", "cm"): 2.54}  # fmt: skip


def _aqi(s: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    aqi = rng.randint(8, 160)
    return {"aqi": aqi, "level": "good" if aqi < 50 else "moderate" if aqi < 100 else "unhealthy"}


def _unit(s: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    src, dst = s["pair"]
    out = f"{s['qty'] * _UNITS[s['pair']]:.2f}"
    return {"src": src, "dst": dst, "out": out}


_WORDS = {
    "serendipity": "finding something good without looking for it",
    "ephemeral": "lasting a very short time",
    "ubiquitous": "found everywhere",
    "laconic": "using very few words",
}


def _define(s: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    return {"meaning": _WORDS[s["word"]]}


def _days(s: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    return {"days": rng.randint(3, 300)}


def _parcel(s: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    return {"where": rng.choice(["Leipzig hub", "out for delivery", "Memphis sort center"]),
            "eta": rng.choice(["today", "tomorrow", "Thursday"])}  # fmt: skip


def _score(s: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    return {"a": rng.randint(0, 4), "b": rng.randint(0, 4),
            "other": rng.choice(["Ajax", "Porto", "Celtic", "Napoli"])}  # fmt: skip


def _recipe(s: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    return {"dish": f"{s['ingredient'].capitalize()} {rng.choice(['curry', 'bake', 'salad'])}",
            "mins": rng.choice([20, 30, 45])}  # fmt: skip


def _dice(s: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    rolls = [rng.randint(1, s["sides"]) for _ in range(s["n"])]
    return {"rolls": ", ".join(map(str, rolls)), "sum": sum(rolls)}


def _train(s: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    return {"dep": f"{rng.randint(6, 22):02d}:{rng.choice(['04', '18', '32', '46'])}",
            "track": rng.randint(1, 14)}  # fmt: skip


def _movies(s: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    return {"show": f"{rng.randint(17, 22)}:{rng.choice(['00', '15', '30', '45'])}"}


def _short(s: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    return {"code": "".join(rng.choice("abcdefghjkmnpqrstuvwxyz23456789") for _ in range(6))}


AIR = Kind(
    "air_quality",
    (Spec(("air_quality", "aqi.current"),
          ("Current air quality index (AQI) and pollution level in a city.",), (P("city"),)),),
    ("How's the air quality in {city}?", "Is the air safe to breathe in {city} today?",
     "What's the AQI in {city}?", "Is it smoggy in {city} right now?"),
    {"city": ["Delhi", "Los Angeles", "Beijing", "Mexico City", "Warsaw"]},
    "AQI {aqi} ({level})", "The air quality in {city} is {level} (AQI {aqi}).",
    "get the air quality", _aqi, (200.0, 900.0), ("weather",), ("What causes smog?",), "aqi",
)  # fmt: skip

UNITS = Kind(
    "unit_convert",
    (Spec(("convert_units", "units.convert"),
          ("Convert a quantity between units of length, mass or volume.",),
          (P("quantity", "number", slot="qty"), P("from_unit", slot="src"),
           P("to_unit", slot="dst"))),),
    ("How many {dst} is {qty} {src}?", "Convert {qty} {src} to {dst}.",
     "What's {qty} {src} in {dst}?", "{qty} {src} in {dst}, please."),
    {"qty": [3, 5, 12, 26.2, 70, 100], "pair": list(_UNITS)},
    "{qty} {src} = {out} {dst}", "{qty} {src} is {out} {dst}.",
    "convert it", _unit, (5.0, 50.0), ("calc",), ("Why does the US use miles?",), "out",
)  # fmt: skip


DAYS = Kind(
    "days_until",
    (Spec(("days_until", "dates.countdown"),
          ("Number of days from today until a given date.",), (P("date", slot="when"),)),),
    ("How many days until {when}?", "How long is it until {when}?",
     "Count the days to {when}.", "How many days are left before {when}?"),
    {"when": ["Christmas", "2027-01-01", "my birthday on March 3", "July 14"]},
    "{days} days", "There are {days} days until {when}.",
    "count the days", _days, (5.0, 40.0), ("clock", "calc"),
    ("Why do months have different lengths?",), "days",
)  # fmt: skip

PARCEL = Kind(
    "track_package",
    (Spec(("track_package", "shipping.track"),
          ("Where a parcel is, by its tracking number, and when it arrives.",),
          (P("tracking_number", slot="tracking"), P("carrier", required=False))),),
    ("Where is my package {tracking}?", "Track parcel {tracking}.",
     "When will {tracking} arrive?", "Track {tracking} with {carrier}."),
    {"tracking": ["1Z999AA10123456784", "JD014600003828", "LX123456789DE"],
     "carrier": ["UPS", "DHL", "FedEx"]},
    "{tracking}: {where}, expected {eta}", "Your parcel is at {where} and should arrive {eta}.",
    "track the parcel", _parcel, (300.0, 1200.0), ("echo",),
    ("How do parcel services sort packages?",), "where",
)  # fmt: skip

DEFINE = Kind(
    "define_word",
    (Spec(("define", "dictionary.lookup"),
          ("Dictionary definition of an English word.",), (P("word"),)),),
    ("Define {word}.", "What does the word '{word}' mean? Look it up.",
     "Dictionary: {word}", "Look up '{word}' in the dictionary."),
    {"word": list(_WORDS)},
    "{word}: {meaning}", "{word} means {meaning}.",
    "look up the word", _define, (100.0, 500.0), ("echo",),
    ("Why does English have so many words?",), "meaning",
)  # fmt: skip

SCORE = Kind(
    "sports_score",
    (Spec(("live_score", "sports.scores"),
          ("Latest score of a team's current or last match.",), (P("team"),)),),
    ("What's the {team} score?", "Did {team} win last night?",
     "How are {team} doing in their game?", "Score of the {team} match?"),
    {"team": ["Arsenal", "Bayern", "Barcelona", "Juventus"]},
    "{team} {a} - {b} {other}", "{team} {a}, {other} {b}.",
    "get the score", _score, (200.0, 900.0), (), ("What is the offside rule?",), "other",
)  # fmt: skip

RECIPE = Kind(
    "find_recipe",
    (Spec(("find_recipe", "recipes.search"),
          ("Search recipes by ingredient, with cooking time.",),
          (P("ingredient"), P("max_minutes", "integer", required=False, slot="limit"))),),
    ("Find me a recipe with {ingredient}.", "What can I cook with {ingredient}?",
     "A {ingredient} recipe under {limit} minutes, please.", "Recipe ideas for {ingredient}?"),
    {"ingredient": ["chickpeas", "salmon", "spinach", "lentils"], "limit": [20, 30]},
    "{dish} ({mins} min)", "Try the {dish}; it takes {mins} minutes.",
    "find a recipe", _recipe, (300.0, 1200.0), (), ("Why do onions make you cry?",), "dish",
)  # fmt: skip

EVENT = Kind(
    "add_event",
    (Spec(("add_calendar_event", "calendar.create_event"),
          ("Create an event in the user's calendar.",),
          (P("title"), P("start", slot="when"), P("minutes", "integer", required=False,
                                                    slot="length"))),),
    ("Put '{title}' in my calendar {when}.", "Schedule {title} {when} for {length} minutes.",
     "Add {title} to my calendar, {when}.", "Book {title} in my calendar {when}."),
    {"title": ["lunch with Sam", "dentist", "team retro"],
     "when": ["tomorrow at 1pm", "on Friday at 10", "next Monday at 9"], "length": [30, 60]},
    "event created: {title}, {when}", "{title} is in your calendar {when}.",
    "create the event", None, (200.0, 800.0), ("save_note", "clock"),
    ("How do I stop scheduling too many meetings?",), "title", acts=True,
)  # fmt: skip

DICE = Kind(
    "roll_dice",
    (Spec(("roll_dice", "random.dice"), ("Roll dice and return each roll.",),
          (P("count", "integer", slot="n"), P("sides", "integer", required=False))),),
    ("Roll {n} dice.", "Roll {n} {sides}-sided dice for me.", "Throw {n} dice please.",
     "Can you roll {n} dice?"),
    {"n": [1, 2, 3], "sides": [6, 20]},
    "{rolls}", "You rolled {rolls}.",
    "roll the dice", _dice, (1.0, 10.0), ("calc",), ("What are the odds of rolling a six?",),
    "rolls",
)  # fmt: skip

TRAIN = Kind(
    "train_departures",
    (Spec(("next_trains", "rail.departures"),
          ("Next train departures from a station to a destination.",),
          (P("station"), P("destination"))),),
    ("When is the next train from {station} to {destination}?",
     "Trains from {station} to {destination}?", "What time does the next train to {destination} "
     "leave {station}?"),
    {"station": ["Berlin Hbf", "Amsterdam Centraal", "Zurich HB"],
     "destination": ["Hamburg", "Utrecht", "Basel"]},
    "{dep} track {track}", "The next train leaves at {dep} from track {track}.",
    "get the departures", _train, (300.0, 1200.0), ("clock",),
    ("Why are trains in Japan so punctual?",), "dep",
)  # fmt: skip

MOVIES = Kind(
    "movie_showtimes",
    (Spec(("showtimes", "cinema.schedule"),
          ("Showtimes of a film at cinemas in a city today.",), (P("movie"), P("city"))),),
    ("When is {movie} playing in {city}?", "Showtimes for {movie} in {city}?",
     "Can I see {movie} tonight in {city}?"),
    {"movie": ["Dune Part Three", "The Long Summer", "Paddington 4"],
     "city": ["Leeds", "Munich", "Lyon"]},
    "{movie}: {show}", "{movie} plays in {city} at {show}.",
    "get the showtimes", _movies, (300.0, 1000.0), ("clock",),
    ("Why do cinemas sell popcorn?",), "show",
)  # fmt: skip

SHORT = Kind(
    "shorten_url",
    (Spec(("shorten_url", "links.shorten"), ("Make a short link for a long URL.",),
          (P("url"),)),),
    ("Shorten {url}.", "Make a short link for {url}.", "Can you give me a tiny URL for {url}?"),
    {"url": ["https://example.com/a/very/long/path?id=42", "https://shop.example.org/item/99812"]},
    "https://sho.rt/{code}", "Here is your short link: https://sho.rt/{code}.",
    "shorten the link", _short, (100.0, 500.0), ("echo",), ("Why do people use short links?",),
    "code",
)  # fmt: skip

HELDOUT_KINDS = (AIR, UNITS, DAYS, PARCEL, DEFINE, SCORE, RECIPE, EVENT, DICE, TRAIN, MOVIES, SHORT)
