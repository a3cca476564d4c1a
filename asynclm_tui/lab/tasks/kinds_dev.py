"""Training tool kinds: files, code and the network, as MCP servers offer them.

Reading a file, finding files and disk usage sit beside ``list_dir``; writing
a file beside ``save_note``; fetching a page beside a web search.
"""

from __future__ import annotations

import random
from typing import Any

from asynclm_tui.lab.tasks.kinds import Kind, P, Spec

FOLDERS = ["~/projects/site", "~/Documents", "/var/log", "src", "~/photos", "."]


def _page(s: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    host = s["url"].split("/")[2]
    return {"title": f"{host.split('.')[-2].capitalize()} - {rng.choice(['Home', 'Blog', 'Docs'])}"}


def _files(s: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    stem = rng.choice(["report", "draft", "main", "holiday", "invoice"])
    return {"f1": f"{s['folder']}/{s['pattern'].replace('*', stem)}"}


def _git(s: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    return {"branch": rng.choice(["main", "feature/login", "fix-typo", "dev"]),
            "f1": rng.choice(["app.py", "README.md", "setup.cfg"]),
            "f2": rng.choice(["tests/test_app.py", "docs/index.md"])}  # fmt: skip


def _ip(s: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    return {"city": rng.choice(["Frankfurt", "Ashburn", "Amsterdam", "Singapore"]),
            "isp": rng.choice(["Hetzner", "AWS", "DigitalOcean", "OVH"])}  # fmt: skip


def _ping(s: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    return {"rtt": rng.randint(4, 180)}


def _disk(s: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    used = rng.randint(20, 400)
    return {"used": used, "free": rng.randint(5, 500)}


def _issue(s: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    return {"num": rng.randint(12, 2400)}


FETCH = Kind(
    "fetch_url",
    (Spec(("fetch_url", "http.get", "web.fetch_page"),
          ("Download a web page and return its text.",), (P("url"),)),),
    ("What does {url} say?", "Fetch {url}.", "Open {url} and tell me what's there.",
     "Read the page at {url}.", "Get me the text of {url}."),
    {"url": ["https://example.com/news", "https://python.org/downloads",
             "https://blog.acme.io/launch", "https://docs.rust-lang.org/book"]},
    "Title: {title}\n(page text, 2,300 words)", "The page at {url} is titled \"{title}\".",
    "fetch the page", _page, (300.0, 1500.0), ("list_dir",), ("What is a URL?",), "title",
)  # fmt: skip

READ_FILE = Kind(
    "read_file",
    (Spec(("read_file", "fs.read", "files.read_text"),
          ("Read a text file and return its contents.",), (P("path", slot="file"),)),),
    ("Show me what's in {file}.", "Read {file}.", "Open {file} and tell me what it says.",
     "cat {file}", "What does {file} contain?", "Print the contents of {file}."),
    {"file": ["notes.txt", "todo.md", "config.yaml", "~/letter.txt", "src/main.py"],
     "content": ["buy milk; call Sam", "port: 8080", "Dear Anna, thank you for", "print('hi')"]},
    "{content}", "{file} says: {content}",
    "read the file", None, (5.0, 60.0), ("list_dir",),
    ("What is a text file?", "What does the cat command do?"), "content",
)  # fmt: skip

WRITE_FILE = Kind(
    "write_file",
    (Spec(("write_file", "fs.write", "files.save_text"),
          ("Write text to a file (creates it or replaces it).",),
          (P("path", slot="file"), P("content", slot="text"))),),
    ("Write '{text}' to {file}.", "Save '{text}' in a file called {file}.",
     "Create {file} containing: {text}", "Put '{text}' into {file}."),
    {"file": ["hello.txt", "plan.md", "out/result.txt", "~/draft.txt"],
     "text": ["hello world", "step 1: buy paint", "done", "meeting at 3"]},
    "wrote {file}", "I wrote it to {file}.",
    "write the file", None, (5.0, 80.0), ("save_note", "echo"),
    ("What is the difference between saving and exporting a file?",), "file", acts=True,
)  # fmt: skip

FIND_FILES = Kind(
    "find_files",
    (Spec(("find_files", "fs.search", "files.find"),
          ("Find files whose names match a pattern, under a folder.",),
          (P("pattern"), P("folder", required=False))),),
    ("Find all {pattern} files.", "Where are my {pattern} files in {folder}?",
     "Search {folder} for {pattern}.", "Any {pattern} files in {folder}?"),
    {"pattern": ["*.pdf", "*.py", "report*", "*.jpg"], "folder": FOLDERS},
    "{f1}\n(and 2 more)", "I found 3 matches, among them {f1}.",
    "search the files", _files, (50.0, 600.0), ("list_dir",),
    ("What is a wildcard in file names?",), "f1",
)  # fmt: skip

GIT = Kind(
    "git_status",
    (Spec(("git.status", "repo_status"),
          ("Show the git status of a repository: branch and changed files.",),
          (P("repo", required=False, slot="folder"),)),),
    ("What's the git status?", "Any uncommitted changes in {folder}?", "Which branch am I on?",
     "Show git status for {folder}."),
    {"folder": FOLDERS},
    "On branch {branch}; modified: {f1}, {f2}",
    "You are on {branch}, with changes in {f1} and {f2}.",
    "read the git status", _git, (20.0, 200.0), ("list_dir",),
    ("What is a git branch?", "How does git merge work?"), "branch",
)  # fmt: skip

ISSUE = Kind(
    "github_issue",
    (Spec(("github.create_issue", "issues.create"),
          ("Open a new issue in a GitHub repository.",),
          (P("repo", slot="ghrepo"), P("title"), P("body", required=False))),),
    ("Open an issue in {ghrepo} titled '{title}'.", "File a bug on {ghrepo}: {title}.",
     "Create a GitHub issue for {ghrepo} called '{title}' saying {body}."),
    {"ghrepo": ["acme/webapp", "me/dotfiles", "team/api"],
     "title": ["Login button does nothing", "Typo in README", "Crash on empty input"],
     "body": ["steps to reproduce are in the chat", "seen on version 2.1"]},
    "created issue #{num}", "Opened issue #{num} in {ghrepo}.",
    "open the issue", _issue, (400.0, 1500.0), ("save_note",),
    ("What makes a good bug report?",), "num", acts=True,
)  # fmt: skip

IP = Kind(
    "ip_info",
    (Spec(("ip_info", "net.lookup_ip", "geoip.locate"),
          ("Where an IP address is located (country, city, provider).",), (P("ip"),)),),
    ("Where is {ip} located?", "Look up the IP {ip}.", "Who owns {ip}?", "Trace {ip} for me."),
    {"ip": ["8.8.8.8", "1.1.1.1", "93.184.216.34", "151.101.1.69"]},
    "{ip}: {city} ({isp})", "{ip} is in {city}, run by {isp}.",
    "look up the address", _ip, (100.0, 800.0), (), ("What is an IP address?",), "city",
)  # fmt: skip

PING = Kind(
    "ping",
    (Spec(("ping", "net.ping", "check_host"),
          ("Check whether a host answers, and its round-trip time.",),
          (P("host"), P("count", "integer", required=False))),),
    ("Is {host} up?", "Ping {host}.", "Can you check if {host} is reachable?",
     "Ping {host} {count} times."),
    {"host": ["example.com", "github.com", "192.168.1.1", "my-server.local"], "count": [3, 5]},
    "{host}: replies, avg {rtt} ms", "{host} is up, answering in {rtt} ms.",
    "reach the host", _ping, (100.0, 3000.0), ("echo",), ("What does ping mean?",), "rtt",
)  # fmt: skip

DISK = Kind(
    "disk_usage",
    (Spec(("disk_usage", "system.disk_space"),
          ("Free and used disk space of a drive or folder.",),
          (P("path", required=False, slot="folder"),)),),
    ("How much disk space is left?", "How full is {folder}?", "Check free space on {folder}.",
     "Am I running out of disk space?"),
    {"folder": FOLDERS},
    "{used} GB used, {free} GB free", "There are {free} GB free ({used} GB used).",
    "check the disk", _disk, (20.0, 300.0), ("list_dir",),
    ("What is the difference between RAM and disk space?",), "free",
)  # fmt: skip

DEV_KINDS = (FETCH, READ_FILE, WRITE_FILE, FIND_FILES, GIT, ISSUE, IP, PING, DISK)
