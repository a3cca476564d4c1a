"""``python -m asynclm_tui``."""

from asynclm_tui.launch import main

main()
