"""``python -m asynclm_tui``."""

from asynclm_tui.cli import entry

entry()
