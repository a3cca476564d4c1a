"""The lab: benchmarks, the adapter trainer and the tasks both draw on.

Nothing on the chat path (``asynclm``, ``chat``, ``run``, ``sessions``, ``tools``,
``doctor``) imports it; its commands import it when they run.
"""
