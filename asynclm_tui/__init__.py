"""asynclm-tui: a terminal chat whose local LLM keeps talking while tools run."""

__version__ = "0.1.0"
