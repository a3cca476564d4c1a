"""The chat screen and the parts it is composed of.

- :mod:`.screen`: :class:`~.screen.ChatScreen`, the Textual screen: widgets,
  keys and message handlers, each delegating to one of the parts below.
- :mod:`.steering`: steer, queue and stop as a state object (no widgets):
  inputs in, :mod:`.effects` out, applied by :mod:`.effect_runner`.
- :mod:`.painter`: what each engine event adds to the transcript (also draws
  saved chats, see :mod:`asynclm_tui.ui.replay`).
- :mod:`.layout`: breakpoints and where the calls panel is.
- :mod:`.status`: the status bar, the message box's title and the
  loading and welcome entries as the model loads and answers run.
- :mod:`.rendering`: when streamed text is rendered.
- :mod:`.copying`: what the copy keys copy.
- :mod:`.footer`: the footer's keys, updated once per refresh.
"""
