"""``mcpServers`` files as other clients write them, ``mcp.servers`` in the
config, and the one-line errors for bad ones (nothing is started here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asynclm_tui.core.api.enums import Deliver, DeliverIdle
from asynclm_tui.core.settings.config import load_settings
from asynclm_tui.core.settings.yaml_source import UserFileError
from asynclm_tui.core.tools.mcp.config import MAX_FILE_BYTES, collect_servers, load_mcp_file
from asynclm_tui.core.tools.mcp.jsonc import JsonProblem, parse_jsonc

CLAUDE_DESKTOP = """\
{
  "mcpServers": {
    "filesystem": {
      "command": "npx",
      "args": [
        "-y",
        "@modelcontextprotocol/server-filesystem",
        "/Users/username/Desktop",
        "/Users/username/Downloads"
      ]
    }
  }
}
"""
"""The example of Claude Desktop's documentation, unchanged."""


def write(tmp_path: Path, text: str, name: str = "mcp.json") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error(path: Path) -> str:
    with pytest.raises(UserFileError) as caught:
        load_mcp_file(path)
    return str(caught.value)


def test_the_claude_desktop_example_parses_unchanged(tmp_path: Path) -> None:
    [server] = load_mcp_file(write(tmp_path, CLAUDE_DESKTOP, "claude_desktop_config.json"))
    assert server.name == "filesystem" and server.transport == "stdio"
    assert server.command == "npx"
    assert server.args == (
        "-y",
        "@modelcontextprotocol/server-filesystem",
        "/Users/username/Desktop",
        "/Users/username/Downloads",
    )
    assert server.enabled and not server.trust and server.env == {}
    assert server.source.endswith("claude_desktop_config.json:3")
    assert server.tool_timeout_s == 60 and server.max_tool_timeout_s == 600


def test_claude_code_http_with_variables_and_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = """{"mcpServers": {"api": {
        "type": "http",
        "url": "${API_BASE_URL:-https://api.example.com}/mcp",
        "headers": {"Authorization": "Bearer ${API_KEY}"}
    }}}"""
    monkeypatch.setenv("API_KEY", "k-123")
    monkeypatch.delenv("API_BASE_URL", raising=False)
    [server] = load_mcp_file(write(tmp_path, text, ".mcp.json"))
    assert server.transport == "http" and not server.sse_fallback
    assert server.url == "https://api.example.com/mcp"
    assert server.headers == {"Authorization": "Bearer k-123"}
    monkeypatch.delenv("API_KEY")
    assert error(tmp_path / ".mcp.json") == (
        f"{tmp_path / '.mcp.json'}:1: mcpServers.api: headers.Authorization: ${{API_KEY}} "
        "is not set (export it or give a default)"
    )


def test_vs_code_servers_with_comments_inputs_and_trailing_commas(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PPLX", "secret")
    folder = tmp_path / "project" / ".vscode"
    folder.mkdir(parents=True)
    text = """{
  // Inputs are VS Code's own; servers are what we read.
  "inputs": [{"type": "promptString", "id": "key", "password": true}],
  "servers": {
    "Perplexity": {
      "type": "stdio",
      "command": "npx",
      "args": ["-y", "server-perplexity-ask", "${workspaceFolder}/data"],
      "env": {"PERPLEXITY_API_KEY": "${env:PPLX}", "PORT": 8080, "DEBUG": true},
    },
    /* a remote one */
    "fetch": {"type": "sse", "url": "https://example.com/sse"},
  },
}"""
    perplexity, fetch = load_mcp_file(write(folder, text))
    assert perplexity.args[-1] == f"{tmp_path / 'project'}/data"
    assert perplexity.env == {"PERPLEXITY_API_KEY": "secret", "PORT": "8080", "DEBUG": "true"}
    assert fetch.transport == "sse" and fetch.url == "https://example.com/sse"


def test_gemini_cli_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_CONNECTION_STRING", "postgres://db")
    text = """{
  "theme": "Default",
  "mcpServers": {
    "pythonTools": {
      "command": "python",
      "args": ["-m", "my_mcp_server"],
      "cwd": "./mcp-servers/python",
      "env": {"DATABASE_URL": "$DB_CONNECTION_STRING"},
      "timeout": 15000
    },
    "remote": {
      "httpUrl": "http://localhost:3000/mcp",
      "trust": true,
      "includeTools": ["search", "fetch"],
      "excludeTools": ["fetch"]
    },
    "cline": {"command": "node", "args": ["s.js"], "disabled": true, "timeout": 90,
              "autoApprove": ["read"]}
  }
}"""
    tools, remote, cline = load_mcp_file(write(tmp_path, text, "settings.json"))
    assert tools.env == {"DATABASE_URL": "postgres://db"} and tools.tool_timeout_s == 15
    assert tools.cwd == str((tmp_path / "mcp-servers" / "python").resolve())
    assert remote.transport == "http" and remote.trust
    assert remote.wants_tool("search") and not remote.wants_tool("fetch")
    assert not remote.wants_tool("other")
    assert not cline.enabled and cline.tool_timeout_s == 90 and cline.auto_approve == {"read"}


def test_a_bare_url_tries_streamable_http_then_sse(tmp_path: Path) -> None:
    [server] = load_mcp_file(write(tmp_path, '{"mcpServers": {"r": {"url": "http://h/mcp"}}}'))
    assert server.transport == "http" and server.sse_fallback


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '{"mcpServers": {\n  "fs": {\n    "command": "npx"\n    "args": []\n  }\n}}',
            ":4: invalid JSON: expected ',' or '}' after the value of 'command', found '\"'",
        ),
        ('{"mcpServers": {\n "fs": {"comand": "npx"}}}', ":2: mcpServers.fs.comand: unknown field"),
        (
            '{"mcpServers": {\n "fs": {\n  "command": "npx",\n  "args": "-y"}}}',
            ":4: mcpServers.fs.args: Input should be a valid list",
        ),
        (
            '{"mcpServers": {"x": {"command": "a", "url": "http://h"}}}',
            ":1: mcpServers.x: give either command (a local server) or url (a remote one)",
        ),
        (
            '{"mcpServers": {"x": {"type": "http", "command": "a"}}}',
            ":1: mcpServers.x: type: http needs a url, not a command",
        ),
        ('{"mcpServers": {"x": {}}}', ":1: mcpServers.x: a server needs a command (stdio)"),
        (
            '{"mcpServers": {"x": {"url": "ftp://h"}}}',
            ":1: mcpServers.x: url: 'ftp://h' must start with http:// or https://",
        ),
        (
            '{"mcpServers": {"x": {"url": "https://h", "oauth": {"enabled": true}}}}',
            ":1: mcpServers.x: oauth: OAuth sign-in is not supported yet",
        ),
        ('{"theme": "dark"}', ":1: no mcpServers object (nor VS Code's servers) in this file"),
        ('{"mcpServers": []}', ":1: mcpServers: must be an object of servers"),
        ("{'mcpServers': {}}", ":1: invalid JSON: expected a quoted key or '}', found \"'\""),
        ('{"mcpServers": {"a": {"command": "x"}, "a": {}}}', ":1: invalid JSON: key 'a' appears"),
        (
            '{"mcpServers": {"x": {"command": "${input:key}"}}}',
            ":1: mcpServers.x: command: ${input:key}: VS Code inputs are not asked for; use env",
        ),
    ],
)
def test_bad_files_get_one_line_with_file_and_line(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = write(tmp_path, text)
    message = error(path)
    assert message.startswith(f"{path}{expected}") and "\n" not in message


def test_a_file_too_large_is_refused_unread(tmp_path: Path) -> None:
    path = write(tmp_path, '{"mcpServers": {}, "x": "' + "a" * MAX_FILE_BYTES + '"}')
    assert "larger than 4 MiB" in error(path)


def test_config_yaml_servers_and_imports_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOKEN", "t0k")
    (tmp_path / "conf").mkdir()
    write(tmp_path / "conf", CLAUDE_DESKTOP, "desktop.json")
    cfg = tmp_path / "conf" / "config.yaml"
    cfg.write_text(
        "mcp:\n"
        "  import: [desktop.json]\n"
        "  tool_timeout_s: 20\n"
        "  servers:\n"
        "    github:\n"
        "      url: https://api.githubcopilot.com/mcp/\n"
        "      headers: {Authorization: 'Bearer ${TOKEN}'}\n"
        "      trust: true\n"
        "      max_tool_timeout_s: 120\n"
        "    filesystem:\n"
        "      command: uvx\n"
        "      args: [mcp-server-fs]\n"
    )
    loaded = load_settings(cfg)
    assert loaded.mcp.import_ == [tmp_path / "conf" / "desktop.json"]
    override = write(tmp_path, '{"mcpServers": {"github": {"command": "gh-mcp"}}}', "cli.json")
    servers = {s.name: s for s in collect_servers(loaded)}
    assert servers["filesystem"].command == "uvx"  # config.yaml wins over the import
    assert servers["github"].headers == {"Authorization": "Bearer t0k"}
    assert servers["github"].tool_timeout_s == 20 and servers["github"].max_tool_timeout_s == 120
    overridden = {s.name: s for s in collect_servers(loaded, [override])}
    assert overridden["github"].command == "gh-mcp"  # --mcp-config wins over the config


def test_config_yaml_errors_name_the_line(tmp_path: Path) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text("mcp:\n  servers:\n    gh:\n      url: https://x\n      trsut: true\n")
    with pytest.raises(UserFileError) as caught:
        load_settings(cfg)
    assert str(caught.value) == f"{cfg}:5: mcp.servers.gh.trsut: unknown field"


def test_fingerprints_change_with_what_runs(tmp_path: Path) -> None:
    one = load_mcp_file(write(tmp_path, '{"mcpServers": {"a": {"command": "x"}}}', "1.json"))[0]
    two = load_mcp_file(write(tmp_path, '{"mcpServers": {"a": {"command": "y"}}}', "2.json"))[0]
    same = load_mcp_file(
        write(tmp_path, json.dumps({"mcpServers": {"a": {"command": "x", "env": {"K": "v"}}}}))
    )[0]
    assert one.fingerprint != two.fingerprint and one.fingerprint == same.fingerprint


def test_reading_the_configuration_and_the_hub_does_not_load_the_sdk() -> None:
    """The SDK (seconds of imports) loads on the hub's thread once servers
    start, never on the way to the chat's first frame or for ``mcp check``."""
    code = (
        "import sys\n"
        "import asynclm_tui.core.settings.config, asynclm_tui.core.tools.mcp.hub\n"
        "import asynclm_tui.core.tools.mcp.config\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('mcp', 'mcp_types')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(max_size=200),
        st.tuples(
            st.integers(0, len(CLAUDE_DESKTOP)),
            st.integers(0, 20),
            st.text(alphabet='{}[]",:/*\n \\ -0123456789.eEtruefalsn', max_size=8),
        ).map(lambda cut: CLAUDE_DESKTOP[: cut[0]] + cut[2] + CLAUDE_DESKTOP[cut[0] + cut[1] :]),
    )
)
def test_any_text_parses_or_is_refused_with_its_line(text: str) -> None:
    try:
        parse_jsonc(text)
    except JsonProblem as exc:
        assert 1 <= exc.line <= text.count("\n") + 1 and "\n" not in exc.message


def test_delivery_per_server_and_per_tool(tmp_path: Path) -> None:
    text = """{"mcpServers": {"build": {"command": "make-mcp", "deliver_idle": "notify",
        "tools": {"full_build": {"background": true, "deliver_idle": "answer"},
                  "lint": {"deliver": "when_idle"}}}}}"""
    [server] = load_mcp_file(write(tmp_path, text))
    assert server.delivery_for("status") == {
        "background": False, "deliver": Deliver.INTERRUPT, "deliver_idle": DeliverIdle.NOTIFY
    }  # fmt: skip
    assert server.delivery_for("full_build") == {
        "background": True, "deliver": Deliver.INTERRUPT, "deliver_idle": DeliverIdle.ANSWER
    }  # fmt: skip
    assert server.delivery_for("lint")["deliver"] is Deliver.WHEN_IDLE
    assert server.delivery_for("lint")["deliver_idle"] is DeliverIdle.NOTIFY


def test_a_bad_delivery_names_its_field(tmp_path: Path) -> None:
    path = write(tmp_path, '{"mcpServers": {"b": {"command": "x", "deliver_idle": "later"}}}')
    message = error(path)
    assert message.startswith(str(path)) and "deliver_idle" in message and "\n" not in message
    path = write(tmp_path, '{"mcpServers": {"b": {"command": "x", "tools": {"t": {"bg": 1}}}}}')
    message = error(path)
    assert "tools.t.bg" in message and "\n" not in message
