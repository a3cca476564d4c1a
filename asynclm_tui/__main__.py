"""``python -m asynclm_tui``."""

from asynclm_tui.cli.console import main

main()
