"""A key footer that is rebuilt only when the keys it shows change."""

from __future__ import annotations

from collections.abc import Hashable

from textual.widgets import Footer


class SteadyFooter(Footer):
    """Textual's :class:`Footer`, without rebuilding identical keys.

    Textual's footer throws its keys away and builds them again after every
    change of the screen's bindings, and a focus change is one: three times
    before a chat's first frame, 20 ms each on a 2-vCPU VM (docs/sessions.md),
    although the keys shown were the same each time.
    """

    _shown: Hashable = None

    def shown_keys(self) -> Hashable:
        """Everything :meth:`Footer.compose` reads from the screen's bindings."""
        return self.show_command_palette, tuple(
            (binding, enabled, tooltip, self.app.get_key_display(binding))
            for _node, binding, enabled, tooltip in self.screen.active_bindings.values()
        )

    async def recompose(self) -> None:
        """Rebuild the keys if what they would show has changed."""
        shown = self.shown_keys()
        if shown == self._shown:
            return
        self._shown = shown
        await super().recompose()
