"""Training tool kinds: money, language, the web, travel and places.

Near-misses on purpose: currency conversion and a bill splitter beside
``calc``, a forecast and sun times beside ``weather`` and ``clock``, flight
status beside both.  ``broad`` kinds (web search, Wikipedia, news) could
answer any question, so no-tool examples never show them in the prompt.
"""

from __future__ import annotations

import random
from typing import Any

from asynclm_tui.lab.tasks.kinds import Kind, P, Spec

CITIES = ["Paris", "Tokyo", "Berlin", "Madrid", "Toronto", "Sydney", "Lisbon", "Oslo", "Cairo",
          "Seoul", "Chicago", "Rome", "Dublin", "Prague"]  # fmt: skip
BROAD = frozenset({"web_search", "wikipedia", "news"})
"""Kinds whose tool could answer any question: kept out of no-tool prompts."""

_CURRENCY = {"USD": "US dollars", "EUR": "euros", "GBP": "pounds", "JPY": "yen",
             "CHF": "Swiss francs", "CAD": "Canadian dollars"}  # fmt: skip
_RATES = {"USD": 1.0, "EUR": 0.92, "GBP": 0.79, "JPY": 151.0, "CHF": 0.88, "CAD": 1.36}
_PHRASES = {
    "good morning": {"French": "bonjour", "Spanish": "buenos días", "German": "guten Morgen",
                     "Italian": "buongiorno", "Portuguese": "bom dia"},
    "thank you very much": {"French": "merci beaucoup", "Spanish": "muchas gracias",
                            "German": "vielen Dank", "Italian": "grazie mille",
                            "Portuguese": "muito obrigado"},
    "where is the station": {"French": "où est la gare", "Spanish": "dónde está la estación",
                             "German": "wo ist der Bahnhof", "Italian": "dov'è la stazione",
                             "Portuguese": "onde fica a estação"},
    "see you tomorrow": {"French": "à demain", "Spanish": "hasta mañana",
                         "German": "bis morgen", "Italian": "a domani",
                         "Portuguese": "até amanhã"},
    "the bill, please": {"French": "l'addition, s'il vous plaît", "Spanish": "la cuenta, por favor",
                         "German": "die Rechnung, bitte", "Italian": "il conto, per favore",
                         "Portuguese": "a conta, por favor"},
}  # fmt: skip
_LANG_CODES = {"French": "fr", "Spanish": "es", "German": "de", "Italian": "it", "Portuguese": "pt"}
_COMPANIES = {"Apple": "AAPL", "Microsoft": "MSFT", "Tesla": "TSLA", "Nvidia": "NVDA",
              "Amazon": "AMZN", "Siemens": "SIE"}  # fmt: skip


def _currency(s: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    dst = rng.choice([c for c in _CURRENCY if c != s["src"]])
    rate = _RATES[dst] / _RATES[s["src"]]
    return {
        "dst": dst,
        "src_word": _CURRENCY[s["src"]],
        "dst_word": _CURRENCY[dst],
        "rate": f"{rate:.4f}",
        "converted": f"{s['amount'] * rate:,.2f}",
    }


def _stock(s: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    return {
        "ticker": _COMPANIES[s["company"]],
        "price": f"{rng.uniform(40, 900):.2f}",
        "change": f"{rng.uniform(-3, 3):+.1f}%",
    }


def _price(s: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    return {"price": f"{rng.uniform(0.3, 90000):,.2f}"}


def _translate(s: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    return {
        "lang_code": _LANG_CODES[s["lang"]],
        "translation": _PHRASES[s["text"]][s["lang"]],
        "src_code": "en",
    }


def _search(s: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    slug = "-".join(s["query"].split()[:3]).lower()
    return {"title": s["query"].capitalize(), "slug": slug}


def _flight(s: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    status = rng.choice(["on time", "delayed by 25 minutes", "delayed by an hour", "on time"])
    return {"status": status, "gate": rng.choice(["A12", "B7", "C22", "D3"]),
            "arr": f"{rng.randint(6, 22):02d}:{rng.choice(['05', '20', '40', '55'])}"}  # fmt: skip


def _forecast(s: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    skies = ["sunny", "cloudy", "rainy", "windy", "snowy"]
    return {"t1": rng.randint(-5, 30), "t2": rng.randint(-5, 30), "sky1": rng.choice(skies),
            "sky2": rng.choice(skies)}  # fmt: skip


def _sun(s: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    return {"rise": f"0{rng.randint(5, 8)}:{rng.randint(10, 59)}",
            "set_": f"{rng.randint(16, 21)}:{rng.randint(10, 59)}"}  # fmt: skip


def _route(s: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    mode = {"by car": "driving", "on foot": "walking", "by bike": "cycling", "by train": "transit"}
    return {"mode": mode[s["mode_said"]], "km": rng.randint(2, 40), "mins": rng.randint(8, 95)}


def _split(s: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    with_tip = s["total"] * (1 + s["tip"] / 100)
    return {"each": f"{with_tip / s['people']:.2f}", "with_tip": f"{with_tip:.2f}"}


def _places(s: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    return {"r1": rng.choice(["Chez Lou", "Casa Verde", "The Golden Fork", "Sakura", "Luigi's"])}


def _ride(s: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    return {"driver": rng.choice(["Marco", "Aisha", "Ben", "Yuki"]), "eta": rng.randint(3, 14)}


CURRENCY = Kind(
    "currency",
    (
        Spec(("convert_currency", "fx.convert"),
             ("Convert an amount of money from one currency to another at today's rate.",),
             (P("amount", "number"), P("from_currency", slot="src", said=("src", "src_word")),
              P("to_currency", slot="dst", said=("dst", "dst_word")))),
        Spec(("money.convert", "currency_converter"),
             ("Currency converter: an amount in one currency in another (ISO codes: USD, EUR).",),
             (P("value", "number", slot="amount"),
              P("source", slot="src", said=("src", "src_word")),
              P("target", slot="dst", said=("dst", "dst_word")))),
    ),
    ("How much is {amount} {src_word} in {dst_word}?", "Convert {amount} {src} to {dst}.",
     "What's {amount} {src_word} in {dst_word} today?",
     "I have {amount} {src}. How many {dst} is that?", "{amount} {src} to {dst}?",
     "How many {dst_word} do I get for {amount} {src_word}?"),
    {"amount": [20, 50, 75, 100, 250, 1200, 3000], "src": list(_CURRENCY)},
    "{amount} {src} = {converted} {dst} (rate {rate})",
    "{amount} {src} is {converted} {dst}.",
    "convert the amount",
    _currency, (150.0, 900.0), ("calc",),
    ("Why do exchange rates change?", "What is the euro?"), "converted",
)  # fmt: skip

STOCK = Kind(
    "stock",
    (Spec(("get_stock_price", "stocks.quote", "market.price"),
          ("Latest trading price of a stock, by its ticker symbol.",),
          (P("symbol", slot="ticker", said=("ticker", "company")),)),),
    ("What's {company}'s stock trading at?", "Stock price of {ticker}?",
     "How is {company} stock doing today?", "Check the share price for {ticker}.",
     "What's {ticker} at right now?", "Give me a quote for {company}."),
    {"company": list(_COMPANIES)},
    "{ticker} {price} USD ({change})",
    "{company} ({ticker}) is trading at {price} USD, {change} today.",
    "get the quote", _stock, (200.0, 1200.0), ("calc",),
    ("What is a stock?", "How does the stock market work?"), "price",
)  # fmt: skip

CRYPTO = Kind(
    "crypto",
    (Spec(("crypto_price", "coins.get_price"),
          ("Current price of a cryptocurrency in US dollars.",), (P("coin"),)),),
    ("What's the price of {coin}?", "How much is one {coin} worth now?", "{coin} price?",
     "Check {coin} for me."),
    {"coin": ["bitcoin", "ethereum", "solana", "dogecoin"]},
    "{coin}: {price} USD", "{coin} is at {price} USD right now.",
    "get the price", _price, (200.0, 1000.0), ("calc",),
    ("What is a blockchain?",), "price",
)  # fmt: skip

TRANSLATE = Kind(
    "translate",
    (
        Spec(("translate", "translator.translate_text", "deepl.translate"),
             ("Translate text into another language.",),
             (P("text"), P("target_lang", slot="lang_code", said=("lang",)),
              P("source_lang", required=False, slot="src_code", said=("src_lang",)))),
        Spec(("translation.run",), ("Machine translation between languages (ISO codes).",),
             (P("q", slot="text"), P("target", slot="lang_code", said=("lang",)))),
    ),
    ("Translate '{text}' into {lang}.", "How do you say '{text}' in {lang}?",
     "What is '{text}' in {lang}?", "Can you translate this to {lang}: {text}",
     "Please put '{text}' into {lang}.", "Translate '{text}' from {src_lang} to {lang}."),
    {"text": list(_PHRASES), "lang": list(_LANG_CODES), "src_lang": ["English"]},
    "{translation}", "In {lang}, '{text}' is '{translation}'.",
    "translate it", _translate, (200.0, 900.0), ("echo",),
    ("Why is learning a language hard?", "How many languages are spoken in the world?"),
    "translation",
    claims=('translat', 'how do you say'),
)  # fmt: skip

SEARCH = Kind(
    "web_search",
    (Spec(("web_search", "search.web", "brave.search"),
          ("Search the web and return the top results with titles and links.",),
          (P("query"), P("count", "integer", required=False))),),
    ("Search the web for {query}.", "Look up {query} online.", "Google {query} for me.",
     "Can you search for {query}? Give me {count} results.", "Search online: {query}"),
    {"query": ["best hiking boots 2026", "python asyncio tutorial", "cheap flights to Lisbon",
               "how to fix a leaking tap", "vegan lasagna recipe"], "count": [3, 5]},
    "1. {title} guide - example.com/{slug}\n2. {title} - wiki.example.org/{slug}",
    "The top result is \"{title} guide\" at example.com/{slug}.",
    "search the web", _search, (400.0, 1500.0), (), (), "slug",
)  # fmt: skip

WIKI = Kind(
    "wikipedia",
    (Spec(("wikipedia.summary", "wiki_lookup"), ("Short summary of a Wikipedia article.",),
          (P("title", slot="topic"),)),),
    ("Look up {topic} on Wikipedia.", "What does Wikipedia say about {topic}?",
     "Get me the Wikipedia summary of {topic}."),
    {"topic": ["the Eiffel Tower", "Ada Lovelace", "photosynthesis", "the Nile"]},
    "{topic}: (summary, 3 sentences)", "Here is what Wikipedia says about {topic}.",
    "read the article", None, (300.0, 1200.0), (), (), "topic",
)  # fmt: skip

NEWS = Kind(
    "news",
    (Spec(("get_news", "news.headlines", "top_headlines"),
          ("Today's top news headlines, optionally on one topic.",),
          (P("topic", required=False),)),),
    ("What's in the news today?", "Any news about {topic}?", "Top headlines on {topic} please.",
     "Give me the latest {topic} news."),
    {"topic": ["technology", "sports", "science", "business"]},
    "1. Big week for {topic}: new report out\n2. Experts weigh in on {topic}",
    "The top headline: \"Big week for {topic}: new report out\".",
    "get the news", None, (300.0, 1200.0), (), (), "report out",
)  # fmt: skip

FLIGHT = Kind(
    "flight",
    (Spec(("flight_status", "flights.get_status", "airline.track_flight"),
          ("Live status of a flight by its number: on time, delayed or cancelled, with gate.",),
          (P("flight_number", slot="flight"), P("date", required=False))),),
    ("Is flight {flight} on time?", "What's the status of {flight}?", "Has {flight} been delayed?",
     "Check flight {flight} for me.", "When does {flight} land?", "Is {flight} on time {date}?"),
    {"flight": ["LH400", "BA117", "AF1234", "UA901", "KL1002", "EK7", "QF1"],
     "date": ["today", "tomorrow"]},
    "{flight}: {status}, gate {gate}, arrives {arr}",
    "Flight {flight} is {status}; it arrives at {arr} at gate {gate}.",
    "check the flight", _flight, (300.0, 1500.0), ("clock", "weather"),
    ("Why do flights get delayed?", "How do planes fly?"), "arr",
)  # fmt: skip

FORECAST = Kind(
    "forecast",
    (Spec(("forecast", "weather.forecast", "get_forecast"),
          ("Weather forecast for the coming days in a city (not the current weather).",),
          (P("city"), P("days", "integer", required=False))),),
    ("What's the forecast for {city} tomorrow?", "Will it rain in {city} this weekend?",
     "Give me the {days}-day forecast for {city}.", "How will the weather be in {city} next week?"),
    {"city": CITIES, "days": [2, 3, 5]},
    "tomorrow: {t1}°C {sky1}; day after: {t2}°C {sky2}",
    "In {city}: tomorrow {t1}°C and {sky1}, the day after {t2}°C and {sky2}.",
    "get the forecast", _forecast, (300.0, 1200.0), ("weather",),
    ("How accurate are weather forecasts?",), "t1",
    claims=('forecast', 'tomorrow', 'weekend', 'next week'),
)  # fmt: skip

SUN = Kind(
    "sun",
    (Spec(("sun_times", "astronomy.sunrise_sunset"),
          ("Sunrise and sunset times for a city on a date.",),
          (P("city"), P("date", required=False))),),
    ("When is sunset in {city}?", "What time does the sun rise in {city}?",
     "Sunrise and sunset in {city} {date}?", "When does it get dark in {city}?"),
    {"city": CITIES, "date": ["today", "tomorrow"]},
    "sunrise {rise}, sunset {set_}", "In {city} the sun rises at {rise} and sets at {set_}.",
    "get the sun times", _sun, (100.0, 600.0), ("clock", "weather"),
    ("Why are sunsets red?",), "set_",
)  # fmt: skip

HOLIDAYS = Kind(
    "holidays",
    (Spec(("public_holidays", "holidays.list"), ("Public holidays of a country in a year.",),
          (P("country"), P("year", "integer", required=False))),),
    ("What are the public holidays in {country} in {year}?", "List {country}'s bank holidays.",
     "Which days are holidays in {country}?"),
    {"country": ["Germany", "Japan", "Brazil", "Canada"], "year": [2026, 2027]},
    "01-01 New Year's Day; 05-01 Labour Day; 12-25 Christmas Day",
    "Public holidays in {country} include New Year's Day (01-01) and Labour Day (05-01).",
    "get the holidays", None, (100.0, 600.0), ("clock",),
    ("Why do we celebrate New Year?",), "05-01",
)  # fmt: skip

RESTAURANTS = Kind(
    "restaurants",
    (Spec(("find_restaurants", "places.search_restaurants", "yelp.search"),
          ("Find restaurants near a place, optionally by cuisine.",),
          (P("location", slot="city"), P("cuisine", required=False))),),
    ("Find a {cuisine} restaurant in {city}.", "Where can I eat in {city}?",
     "Any good {cuisine} places in {city}?", "Restaurants in {city} please."),
    {"city": CITIES, "cuisine": ["Italian", "Thai", "vegan", "Mexican", "sushi"]},
    "1. {r1} 4.6 stars\n2. Corner Bistro 4.3 stars",
    "In {city}, {r1} has the best rating (4.6 stars).",
    "search for restaurants", _places, (300.0, 1200.0), (),
    ("What is Thai food like?",), "r1",
)  # fmt: skip

RIDE = Kind(
    "ride",
    (Spec(("book_ride", "taxi.order", "rides.request"),
          ("Order a taxi from a pickup address to a destination.",),
          (P("pickup"), P("destination"), P("seats", "integer", required=False))),),
    ("Get me a taxi from {pickup} to {destination}.", "Book a ride to {destination} from {pickup}.",
     "I need a cab from {pickup} to {destination} for {seats} people."),
    {"pickup": ["home", "the office", "Central Station", "12 Oak Street"],
     "destination": ["the airport", "Central Station", "the hospital", "Maple Hotel"],
     "seats": [2, 3, 4]},
    "ride booked: driver {driver}, arrives in {eta} min",
    "A taxi is booked: {driver} will pick you up in {eta} minutes.",
    "book the ride", _ride, (500.0, 2000.0), (), ("Is it cheaper to take a taxi or a bus?",),
    "eta", acts=True,
)  # fmt: skip

ROUTE = Kind(
    "route",
    (Spec(("get_directions", "maps.route", "travel_time"),
          ("Route and travel time between two places by car, bike, foot or transit.",),
          (P("origin"), P("destination"),
           P("mode", required=False, enum=("driving", "walking", "cycling", "transit"),
             said=("mode_said",)))),),
    ("How long does it take to get from {origin} to {destination}?",
     "Directions from {origin} to {destination} {mode_said}.",
     "How far is {destination} from {origin}?", "Route from {origin} to {destination} please."),
    {"origin": ["the station", "home", "the museum", "Oak Park"],
     "destination": ["the airport", "the old town", "the stadium", "the beach"],
     "mode_said": ["by car", "on foot", "by bike", "by train"]},
    "{km} km, {mins} min by {mode}",
    "From {origin} to {destination} is {km} km, about {mins} minutes.",
    "find the route", _route, (200.0, 1000.0), ("clock",),
    ("Is cycling faster than driving in cities?",), "mins",
)  # fmt: skip

SPLIT = Kind(
    "split_bill",
    (Spec(("split_bill", "tip_calculator"),
          ("Split a restaurant bill between people, with a tip percentage.",),
          (P("total", "number"), P("people", "integer"),
           P("tip_percent", "number", required=False, slot="tip"))),),
    ("Split a {total} dollar bill between {people} people.",
     "We're {people} and the bill is {total}, with {tip}% tip. How much each?",
     "Divide {total} among {people} friends.", "Bill of {total} for {people}, {tip} percent tip."),
    {"total": [48, 86, 120, 230], "people": [2, 3, 4, 6], "tip": [10, 15, 20]},
    "{each} each (total with tip {with_tip})", "Each person pays {each}.",
    "split the bill", _split, (10.0, 50.0), ("calc",), ("How much should I tip in the US?",),
    "each",
)  # fmt: skip

WORLD_KINDS = (
    CURRENCY, STOCK, CRYPTO, TRANSLATE, SEARCH, WIKI, NEWS, FLIGHT, FORECAST, SUN, HOLIDAYS,
    RESTAURANTS, RIDE, ROUTE, SPLIT,
)  # fmt: skip
