"""Screens of the chat UI, each with its ``.tcss`` beside it."""
