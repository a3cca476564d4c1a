"""Saved chats: the SQLite store, the recorder that writes it as turns run,
and exports."""
