"""Training tool kinds: home, phone and personal organisation.

Several sit right beside a shipped tool (a timer and an alarm beside ``clock``
and ``sleep``, a to-do list and reminders beside ``save_note``), so the
description, not a keyword, decides which one a request needs.
"""

from __future__ import annotations

import random
from typing import Any

from asynclm_tui.lab.tasks.kinds import Kind, P, Spec

NAMES = ["Anna", "Sam", "Maria", "Tom", "Priya", "Lukas", "Chen", "Fatima", "Olga", "Diego"]


def _timer(s: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    return {"s": s["m"] * 60}


def _alarm(s: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    said = {"once": "just once", "daily": "every day", "weekdays": "on weekdays"}
    return {"repeat_said": said[s["repeat"]]}


def _contact(s: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    return {
        "phone": f"{rng.randint(100, 999)} {rng.randint(1000, 9999)}",
        "email": f"{s['name'].lower()}@example.com",
    }


def _calendar(s: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    date = s["day"].removeprefix("on ").removeprefix("this ")
    hour = rng.choice(["08:30", "09:00", "09:30", "10:15", "11:00"])
    what = rng.choice(["standup", "dentist", "call with the bank", "design review"])
    return {"date": date, "Day": s["day"][:1].upper() + s["day"][1:], "at": hour, "what": what}


def _music(s: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    return {"shuffle": True, "shuffle_said": "on shuffle"}


def _task(s: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    return {"tid": rng.randint(12, 480)}


TIMER = Kind(
    "timer",
    (
        Spec(
            ("set_timer", "timer.start", "start_timer"),
            (
                "Start a countdown timer that rings when the time is up.",
                "Kitchen timer: alerts the user after the given number of seconds.",
            ),
            (P("seconds", "integer", slot="s", said=("m", "s")), P("label", required=False)),
        ),
        Spec(
            ("countdown", "timers.countdown"),
            ("Count down a number of minutes, then notify the user.",),
            (P("minutes", "integer", slot="m", said=("m", "s")),
             P("name", required=False, slot="label")),
        ),
    ),
    (
        "Set a timer for {m} minutes.", "Start a {m} minute timer.",
        "Can you time {m} minutes for me?", "Timer for {s} seconds please.",
        "Set a {m}-minute timer called {label}.", "Put a timer on for {m} minutes for the {label}.",
        "I need a countdown of {m} minutes.", "Start a countdown: {s} seconds.",
        "Let me know when {m} minutes are up.", "Set a {label} timer for {m} minutes.",
        "timer {m} min", "Count down {m} minutes for the {label}, please.",
    ),
    {"m": [1, 2, 3, 4, 5, 8, 10, 12, 15, 20, 25, 30, 45],
     "label": ["pasta", "tea", "eggs", "laundry", "pizza", "workout", "nap", "bread"]},
    "timer started: rings in {s} s",
    "Your {m}-minute timer is running.",
    "start the timer",
    _timer,
    (20.0, 120.0),
    ("clock", "sleep"),
    ("How does a kitchen timer work?", "What is the Pomodoro technique?"),
    "m",
    claims=('timer', 'countdown', 'count down'),
)  # fmt: skip

ALARM = Kind(
    "alarm",
    (
        Spec(
            ("set_alarm", "alarms.create"),
            ("Set an alarm that rings at a time of day (HH:MM, 24-hour).",),
            (P("time"), P("label", required=False),
             P("repeat", required=False, enum=("once", "daily", "weekdays"),
               said=("repeat_said",))),
        ),
        Spec(
            ("alarm_clock.set",),
            ("Wake-up alarm: rings at the given clock time.",),
            (P("at", slot="time"), P("note", required=False, slot="label")),
        ),
    ),
    (
        "Set an alarm for {time}.", "Wake me up at {time}.", "Alarm at {time} please.",
        "I need an alarm at {time} tomorrow.", "Set an alarm for {time} {repeat_said}.",
        "Set an alarm at {time} labelled {label}.", "Can you get me up at {time}?",
    ),
    {"time": ["06:00", "06:30", "07:00", "07:15", "07:45", "08:00", "05:30"],
     "label": ["gym", "flight", "work", "meds"], "repeat": ["once", "daily", "weekdays"]},
    "alarm set for {time}",
    "Your alarm is set for {time}.",
    "set the alarm",
    _alarm,
    (20.0, 150.0),
    ("clock",),
    ("Why do we need alarms to wake up?", "How much sleep should I get before an early flight?"),
    "time",
)  # fmt: skip

REMINDER = Kind(
    "reminder",
    (
        Spec(
            ("create_reminder", "reminders.add"),
            ("Remind the user about something at a given time.",),
            (P("text", slot="task"), P("when")),
        ),
        Spec(
            ("remind_me",),
            ("Schedule a reminder notification for later.",),
            (P("message", slot="task"), P("at", slot="when")),
        ),
    ),
    (
        "Remind me to {task} {when}.", "Set a reminder to {task} {when}.",
        "Don't let me forget to {task} {when}.", "Can you remind me {when} to {task}?",
        "{when}, remind me to {task}.", "Reminder: {task}, {when}.",
    ),
    {"task": ["call the dentist", "water the plants", "take my medicine", "send the invoice",
              "pick up Anna", "buy a birthday card", "stretch"],
     "when": ["at 5pm", "tomorrow at 9", "in 30 minutes", "on Friday morning", "tonight at 8"]},
    "reminder saved: '{task}' {when}",
    "I will remind you to {task} {when}.",
    "set the reminder",
    None,
    (40.0, 300.0),
    ("save_note", "clock"),
    ("How can I remember things better?", "Are reminders good for productivity?"),
    "task",
    acts=True,
    claims=('remind',),
)  # fmt: skip

TODO = Kind(
    "todo",
    (
        Spec(
            ("todo.add", "add_task", "tasks.create"),
            ("Add an item to the user's to-do list.",),
            (P("title", slot="task"), P("due", required=False),
             P("priority", required=False, enum=("low", "normal", "high"))),
        ),
    ),
    (
        "Add '{task}' to my to-do list.", "Put {task} on my todo list.",
        "New task: {task}, due {due}.", "Add a {priority} priority task: {task}.",
        "Add {task} to my tasks.", "Todo: {task}", "I need to {task}, add it to my list.",
    ),
    {"task": ["renew my passport", "book flights", "fix the bike", "clean the garage",
              "reply to Sam", "pay rent"],
     "due": ["Friday", "tomorrow", "next week", "2026-12-20"],
     "priority": ["low", "high"]},
    "task #{tid} added: {task}",
    "Added to your to-do list: {task}.",
    "add the task",
    _task,
    (30.0, 200.0),
    ("save_note",),
    ("How do I make a good to-do list?", "What is time blocking?"),
    "task",
    acts=True,
    claims=('to-do', 'todo'),
)  # fmt: skip

CONTACT = Kind(
    "contact",
    (
        Spec(
            ("find_contact", "contacts.search"),
            ("Look up a person in the user's address book: phone number and e-mail.",),
            (P("name"),),
        ),
    ),
    (
        "What's {name}'s phone number?", "Find {name} in my contacts.",
        "Do I have an email for {name}?", "Look up {name}'s contact details.",
        "How do I reach {name}?", "Get me {name}'s number.",
    ),
    {"name": NAMES},
    "{name}: +1 555 {phone}, {email}",
    "{name}'s number is +1 555 {phone} and their e-mail is {email}.",
    "look up the contact",
    _contact,
    (30.0, 200.0),
    (),
    ("Is it rude to call someone without texting first?",),
    "phone",
)  # fmt: skip

SMS = Kind(
    "sms",
    (
        Spec(
            ("send_sms", "sms.send", "messages.send_text"),
            ("Send a text message to a phone number.",),
            (P("to", slot="number"), P("text", slot="msg")),
        ),
    ),
    (
        "Text {number}: {msg}", "Send an SMS to {number} saying {msg}.",
        "Message {number} that {msg}.", "Can you text {number} and say {msg}?",
    ),
    {"number": ["+1 555 0142", "+44 7700 900123", "+49 151 2345678", "+1 555 0199"],
     "msg": ["I'm on my way", "dinner is at 7", "call me when you can", "the door code is 4512"]},
    "delivered to {number}",
    "Your text to {number} was delivered.",
    "send the text",
    None,
    (300.0, 1500.0),
    ("echo",),
    ("Is texting better than calling?",),
    "number",
    acts=True,
)  # fmt: skip

EMAIL = Kind(
    "email",
    (
        Spec(
            ("send_email", "mail.send", "gmail.send_message"),
            ("Send an e-mail to a recipient with a subject and body.",),
            (P("to", slot="email"), P("body"), P("subject", required=False)),
        ),
        Spec(
            ("email.compose_and_send",),
            ("Write and send an e-mail message.",),
            (P("recipient", slot="email"), P("message", slot="body"), P("subject", required=False)),
        ),
    ),
    (
        "Send an email to {email} saying {body}.", "Email {email}: {body}",
        "Can you email {email} and tell them {body}?",
        "Write an email to {email} with the subject '{subject}': {body}",
        "Shoot {email} a quick email: {body}", "Let {email} know by email that {body}.",
    ),
    {"email": ["anna@example.com", "sam.lee@work.org", "team@startup.io", "dad@family.net"],
     "body": ["the meeting moved to 3pm", "I'll be ten minutes late", "the report is ready",
              "thanks for dinner yesterday"],
     "subject": ["Meeting", "Running late", "Report", "Thanks"]},
    "sent to {email}",
    "I sent the email to {email}.",
    "send the email",
    None,
    (500.0, 2500.0),
    ("save_note", "echo"),
    ("How do I write a polite email?", "What is a good email subject line?"),
    "email",
    acts=True,
)  # fmt: skip

CALENDAR = Kind(
    "calendar",
    (
        Spec(
            ("calendar.list_events", "get_events", "agenda"),
            ("List the events in the user's calendar for a day.",),
            (P("date", said=("day",)),),
        ),
    ),
    (
        "What's on my calendar {day}?", "Do I have any meetings {day}?",
        "Show my agenda for {day}.", "Am I free {day}?", "What do I have {day}?",
    ),
    {"day": ["today", "tomorrow", "on Monday", "this Friday", "on Wednesday"]},
    "{at} {what}",
    "{Day} you have one event: {what} at {at}.",
    "read your calendar",
    _calendar,
    (80.0, 400.0),
    ("clock",),
    ("How do I plan a productive week?",),
    "at",
)  # fmt: skip

LIGHTS = Kind(
    "lights",
    (
        Spec(
            ("lights.set", "set_lights", "home.light_control"),
            ("Turn the lights in a room on or off.",),
            (P("room"), P("state", enum=("on", "off")),
             P("brightness", "integer", required=False)),
        ),
    ),
    (
        "Turn {state} the lights in the {room}.", "Switch the {room} lights {state}.",
        "Lights {state} in the {room} please.", "Can you turn the {room} light {state}?",
    ),
    {"room": ["kitchen", "living room", "bedroom", "hallway", "office"], "state": ["on", "off"],
     "brightness": [30, 50, 80]},
    "{room} lights {state}",
    "The {room} lights are {state}.",
    "switch the lights",
    None,
    (50.0, 300.0),
    (),
    ("Are LED bulbs better than old light bulbs?",),
    "room",
)  # fmt: skip

THERMOSTAT = Kind(
    "thermostat",
    (
        Spec(
            ("set_temperature", "thermostat.set", "climate.set_target"),
            ("Set the home thermostat to a target temperature in degrees Celsius.",),
            (P("celsius", "number", slot="deg"), P("zone", required=False, slot="room")),
        ),
    ),
    (
        "Set the heating to {deg} degrees.", "Make it {deg} degrees in the {room}.",
        "Thermostat to {deg} please.", "Can you set the temperature to {deg}°C?",
        "Warm the {room} up to {deg} degrees.",
    ),
    {"deg": [18, 19, 20, 21, 22, 23], "room": ["bedroom", "living room", "office"]},
    "target set: {deg} °C",
    "The thermostat is set to {deg} °C.",
    "set the thermostat",
    None,
    (80.0, 500.0),
    ("weather",),
    ("What temperature should a bedroom be?", "How does a thermostat work?"),
    "deg",
)  # fmt: skip

VOLUME = Kind(
    "volume",
    (
        Spec(
            ("set_volume", "speaker.volume"),
            ("Set the speaker volume, from 0 to 100.",),
            (P("level", "integer"),),
        ),
    ),
    ("Set the volume to {level}.", "Turn the volume to {level} percent.", "Volume {level} please.",
     "Put the speaker at {level}."),
    {"level": [10, 20, 30, 45, 60, 75]},
    "volume {level}",
    "The volume is at {level}.",
    "change the volume",
    None,
    (20.0, 100.0),
    ("calc",),
    ("Is loud music bad for your ears?",),
    "level",
)  # fmt: skip

MUSIC = Kind(
    "music",
    (
        Spec(
            ("play_music", "spotify.play", "music.play_track"),
            ("Play a song, an artist or a playlist on the user's speaker.",),
            (P("query"), P("shuffle", "boolean", required=False, said=("shuffle_said",))),
        ),
    ),
    ("Play {query}.", "Put on some {query}.", "I want to hear {query}.",
     "Play {query} {shuffle_said}.", "Can you play {query} for me?"),
    {"query": ["Miles Davis", "lo-fi beats", "Bohemian Rhapsody", "my running playlist",
               "Taylor Swift", "jazz for cooking"]},
    "now playing: {query}",
    "Now playing {query}.",
    "start the music",
    _music,
    (100.0, 600.0),
    ("echo",),
    ("Who was Miles Davis?", "Why does music make us feel emotions?"),
    "query",
)  # fmt: skip

BATTERY = Kind(
    "battery",
    (Spec(("battery_status", "device.battery"),
          ("Battery level and charging state of the user's device.",), ()),),
    ("How much battery do I have?", "Is my laptop charging?", "Battery level?",
     "What's my battery at?"),
    {"pct": [12, 35, 58, 81, 96], "charging": ["charging", "not charging"]},
    "{pct}% ({charging})",
    "Your battery is at {pct}% and {charging}.",
    "read the battery",
    None,
    (10.0, 60.0),
    (),
    ("How do I make my phone battery last longer?",),
    "pct",
)  # fmt: skip

HOME_KINDS = (
    TIMER, ALARM, REMINDER, TODO, CONTACT, SMS, EMAIL, CALENDAR, LIGHTS, THERMOSTAT, VOLUME,
    MUSIC, BATTERY,
)  # fmt: skip
