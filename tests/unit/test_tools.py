"""Tool files, argument validation and the three runners."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from asynclm_tui.core.settings.paths import shipped_tools_dir
from asynclm_tui.core.settings.yaml_source import UserFileError
from asynclm_tui.core.tools.registry import ArgumentError, ToolRegistry
from asynclm_tui.core.tools.runners import (
    SILENT_SUCCESS,
    ToolFailure,
    build_argv,
    run_command,
    run_http,
)
from asynclm_tui.core.tools.spec import load_tool_file


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_shipped_tools_load_cleanly() -> None:
    reg = ToolRegistry.load([shipped_tools_dir()])
    assert not reg.errors
    assert {"sleep", "clock", "calc", "echo", "list_dir", "weather", "save_note"} <= set(reg.tools)
    runners = {spec.runner for spec in reg.tools.values()}
    assert runners == {"command", "http", "python"}
    assert reg.tools["save_note"].confirm
    sleep = reg.tools["sleep"]
    assert sleep.declared_ms((), {"ms": 30000}) == 30000
    assert sleep.declared_ms((2500,), {}) == 2500  # positional
    assert sleep.declared_ms((), {}) is None and sleep.declared_ms((), {"ms": "soon"}) is None
    assert reg.tools["calc"].declared_ms((), {"expression": "1"}) is None


def test_duration_in_seconds(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "t.yaml",
        "name: wait\ndescription: d\npython: a:b\nparameters:\n"
        "  type: object\n  properties: {s: {type: number}}\n"
        "duration_arg: s\nduration_unit: s\n",
    )
    assert load_tool_file(path)[0].declared_ms((), {"s": 1.5}) == 1500


@pytest.mark.parametrize(
    ("body", "line", "fragment"),
    [
        ("name: x\ndescription: d\npython: a:b\nbogus: 1\n", 4, "bogus: unknown field"),
        ("name: x\ndescription: d\n", 1, "exactly one runner"),
        ("name: x\ndescription: d\ncommand: [ls]\npython: a:b\n", 1, "found command, python"),
        ("name: x\ndescription: d\ncommand: [echo, '{nope}']\n", 3, "{nope}"),
        ("name: 1bad\ndescription: d\npython: a:b\n", 1, "name:"),
        ("name: x\ndescription: d\npython: a:b\ntimeout_s: -1\n", 4, "timeout_s:"),
        (
            "name: x\ndescription: d\npython: a:b\nparameters: {type: object, properties: 3}\n",
            4,
            "invalid JSON Schema",
        ),
        ("name: x\n  description: [\n", 2, "invalid YAML"),
        (
            "name: x\ndescription: d\npython: a:b\nparameters:\n  type: object\n"
            "  properties: {ms: {type: integer}}\nduration_arg: seconds\n",
            7,
            "duration_arg: 'seconds' is not a declared parameter (parameters: ms)",
        ),
        (
            "name: x\ndescription: d\npython: a:b\nduration_arg: t\nparameters:\n"
            "  type: object\n  properties: {t: {type: string}}\n",
            4,
            "duration_arg: parameter 't' must have type integer or number, not string",
        ),
        ("name: x\ndescription: d\npython: a:b\nduration_unit: h\n", 4, "duration_unit:"),
        (
            "- name: ok\n  description: d\n  python: a:b\n"
            "- name: x\n  description: d\n  command: []\n",
            6,
            "command",
        ),
    ],
)
def test_bad_files_report_path_and_line(
    tmp_path: Path, body: str, line: int, fragment: str
) -> None:
    path = write(tmp_path, "t.yaml", body)
    with pytest.raises(UserFileError) as info:
        load_tool_file(path)
    assert str(info.value).startswith(f"{path}:{line}: ")
    assert fragment in str(info.value)


def test_one_bad_file_does_not_stop_the_others(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "name: good\ndescription: d\npython: a:b\n")
    write(tmp_path, "b.yaml", "name: [\n")
    reg = ToolRegistry.load([tmp_path])
    assert list(reg.tools) == ["good"]
    assert len(reg.errors) == 1 and str(reg.errors[0]).startswith(str(tmp_path / "b.yaml"))


def test_bind_validates_against_schema() -> None:
    reg = ToolRegistry.load([shipped_tools_dir()])
    assert reg.bind("sleep", (5,), {}) == {"ms": 5}
    with pytest.raises(ArgumentError, match="'ms'"):
        reg.bind("sleep", (), {"ms": "soon"})
    with pytest.raises(ArgumentError, match="required"):
        reg.bind("sleep", (), {})
    with pytest.raises(ArgumentError, match="positional"):
        reg.bind("sleep", (1, 2), {})


def test_argv_substitution_is_per_element() -> None:
    argv = build_argv(
        ["printf", "%s", "{text}", "{{literal}}", "{opt}"], {"text": "a; rm -rf / $(x)"}
    )
    assert argv == ["printf", "%s", "a; rm -rf / $(x)", "{literal}"]


async def test_shell_metacharacters_reach_the_program_literally(tmp_path: Path) -> None:
    reg = ToolRegistry.load([shipped_tools_dir()])
    evil = "x'; touch " + str(tmp_path / "pwned") + "; echo $(whoami) `id` | cat > /dev/null &"
    out = await run_command(reg.tools["echo"], {"text": evil})
    assert out == evil
    assert not (tmp_path / "pwned").exists()


async def test_command_failure_and_output_cap(tmp_path: Path) -> None:
    reg = ToolRegistry.load([Path(__file__).parent.parent / "fixtures" / "tools"])
    with pytest.raises(ToolFailure, match="exit status 3: broken"):
        await run_command(reg.tools["fail_cmd"], {})
    spec = reg.tools["fail_cmd"].model_copy(
        update={"command": ["sh", "-c", "yes | head -c 100000"], "max_output_bytes": 100}
    )
    out = await run_command(spec, {})
    assert out.startswith("y\ny") and "cut at 100 bytes" in out


async def test_a_command_that_prints_nothing_says_it_succeeded() -> None:
    reg = ToolRegistry.load([Path(__file__).parent.parent / "fixtures" / "tools"])
    quiet = reg.tools["fail_cmd"].model_copy(update={"command": ["sh", "-c", "echo '  '"]})
    assert await run_command(quiet, {}) == SILENT_SUCCESS


@pytest.fixture
def http_server() -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            body = (self.path + " " + self.headers.get("X-Key", "")).encode() * (
                100 if "big" in self.path else 1
            )
            self.send_response(404 if "missing" in self.path else 200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


async def test_http_runner_encodes_caps_and_reads_env(
    tmp_path: Path, http_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx

    monkeypatch.setenv("ASYNCLM_TEST_KEY", "sekret")
    path = write(
        tmp_path,
        "h.yaml",
        f"""name: get
description: d
parameters: {{type: object, properties: {{q: {{type: string}}}}}}
http:
  url: "{http_server}/search/{{q}}"
  headers: {{X-Key: "${{env:ASYNCLM_TEST_KEY}}"}}
  query: {{lang: en}}
  max_bytes: 300
""",
    )
    spec = load_tool_file(path)[0]
    async with httpx.AsyncClient() as client:
        out = await run_http(spec, {"q": "a b/../c?d"}, client)
        assert out == "/search/a%20b%2F..%2Fc%3Fd?lang=en sekret"
        big = await run_http(spec, {"q": "big"}, client)
        assert "cut at 300 bytes" in big
        with pytest.raises(ToolFailure, match="HTTP 404"):
            await run_http(spec, {"q": "missing"}, client)
    monkeypatch.delenv("ASYNCLM_TEST_KEY")
    async with httpx.AsyncClient() as client:
        with pytest.raises(ToolFailure, match="ASYNCLM_TEST_KEY is not set"):
            await run_http(spec, {"q": "x"}, client)
