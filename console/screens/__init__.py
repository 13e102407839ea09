"""One module per screen. SCREENS is the one registry of the app's screens (mode, key, title, and
where the class lives); the app's modes, its digit-key bindings and the command palette all read it.
Each screen's module is imported the first time it is shown (start-up loads only the overview)."""

from __future__ import annotations

from typing import NamedTuple


class ScreenEntry(NamedTuple):
    mode: str  # the app's mode, switched with the digit key
    key: str
    title: str
    module: str
    class_name: str


SCREENS: tuple[ScreenEntry, ...] = (
    ScreenEntry("overview", "1", "Overview", "console.screens.overview", "OverviewScreen"),
    ScreenEntry("agents", "2", "Agents", "console.screens.agents", "AgentsScreen"),
    ScreenEntry("heartbeats", "3", "Heartbeats", "console.screens.heartbeats", "HeartbeatsScreen"),
    ScreenEntry("vault", "4", "Vault", "console.screens.vault", "VaultScreen"),
    ScreenEntry("pipeline", "5", "Pipeline", "console.screens.pipeline", "PipelineScreen"),
    ScreenEntry("tasks", "6", "Tasks", "console.screens.tasks", "TasksScreen"),
    ScreenEntry("audit", "7", "Audit", "console.screens.audit", "AuditScreen"),
)

_BY_MODE = {s.mode: s for s in SCREENS}


def screen_class(mode: str) -> type:
    import importlib

    entry = _BY_MODE[mode]
    return getattr(importlib.import_module(entry.module), entry.class_name)


def modes() -> dict:
    """Each mode's screen, built (and its module imported) the first time it is shown."""
    return {s.mode: (lambda m=s.mode: screen_class(m)()) for s in SCREENS}


def all_screen_classes() -> list[type]:
    from console.screens.audit import ActivityDetail
    from console.screens.base import ConsoleScreen
    from console.screens.detail import AgentDetailScreen
    from console.screens.help import HelpScreen
    from console.screens.pipeline import OpportunityDetail
    from console.screens.form import Form, Picker
    from console.screens.vault import MigrationWizard, VersionsScreen

    return [ConsoleScreen, AgentDetailScreen, HelpScreen, Form, Picker, ActivityDetail, MigrationWizard,
            OpportunityDetail, VersionsScreen, *(screen_class(s.mode) for s in SCREENS)]
