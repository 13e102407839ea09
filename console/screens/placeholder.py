"""Screens whose work lands with later issues: they say so, and what will be there."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from console.screens.base import ConsoleScreen


class PlaceholderScreen(ConsoleScreen):
    WHAT = ""
    CLI = ""

    def compose_body(self) -> ComposeResult:
        yield Static(
            f"[b]{self.TITLE}[/b] is not built yet.\n\n{self.WHAT}\n\n{self.CLI}",
            classes="placeholder",
        )


class PipelineScreen(PlaceholderScreen):
    TITLE = "Pipeline"
    WHAT = ("Here: VEDA's feeds and signals, ORIN's survey scores and Cestra's go/no-go decisions with "
            "each criterion's pass or fail.")
    CLI = "Until then decisions appear in the Overview as `decision_made` activities."
