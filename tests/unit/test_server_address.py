"""The server address is read the way other OpenAI clients read it."""

from __future__ import annotations

import pytest

from asynclm_tui.core.backends.openai_http import ServerConfig
from asynclm_tui.core.settings.config import load_settings


@pytest.mark.parametrize(
    "given",
    [
        "http://127.0.0.1:8011",
        "http://127.0.0.1:8011/",
        "http://127.0.0.1:8011/v1",
        "http://127.0.0.1:8011/v1/",
    ],
)
def test_a_trailing_v1_is_the_same_server(given: str) -> None:
    # The OpenAI SDK, llm, aichat and Codex all take the address with /v1.
    settings = load_settings(None, {"server.base_url": given})
    assert settings.server.base_url == "http://127.0.0.1:8011"


def test_a_path_before_v1_is_kept() -> None:
    settings = load_settings(None, {"server.base_url": "https://example.org/api/v1"})
    assert settings.server.base_url == "https://example.org/api"


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://127.0.0.1:8011", "127.0.0.1:8011"),
        ("https://user:secret@example.org/api", "example.org"),
        ("http://[::1]:8011", "[::1]:8011"),
    ],
)
def test_the_host_names_where_the_model_runs_without_credentials(url: str, host: str) -> None:
    # The status bar and `asynclm run` name a remote model by its host.
    assert ServerConfig(url).host == host
