"""The Textual chat UI; imported only by ``asynclm chat`` (never by the core)."""
