"""One module per screen. MODES maps the app's modes (switched with the digit keys) to screens."""

from __future__ import annotations


SCREEN_CLASSES = {
    "overview": ("console.screens.overview", "OverviewScreen"),
    "agents": ("console.screens.agents", "AgentsScreen"),
    "heartbeats": ("console.screens.heartbeats", "HeartbeatsScreen"),
    "vault": ("console.screens.vault", "VaultScreen"),
    "pipeline": ("console.screens.pipeline", "PipelineScreen"),
    "tasks": ("console.screens.tasks", "TasksScreen"),
    "audit": ("console.screens.audit", "AuditScreen"),
}


def screen_class(mode: str) -> type:
    import importlib

    module, name = SCREEN_CLASSES[mode]
    return getattr(importlib.import_module(module), name)


def _modes() -> dict:
    """Each mode's screen, imported the first time it is shown (start-up loads only the overview)."""
    return {mode: (lambda m=mode: screen_class(m)()) for mode in SCREEN_CLASSES}


def __getattr__(name: str):
    if name == "MODES":
        return _modes()
    raise AttributeError(name)


def all_screen_classes() -> list[type]:
    from console.screens.audit import ActivityDetail
    from console.screens.base import ConsoleScreen
    from console.screens.detail import AgentDetailScreen
    from console.screens.help import HelpScreen
    from console.screens.pipeline import OpportunityDetail
    from console.screens.tasks import TaskForm
    from console.screens.vault import MigrationWizard

    return [ConsoleScreen, AgentDetailScreen, HelpScreen, TaskForm, ActivityDetail, MigrationWizard, OpportunityDetail,
            *(screen_class(m) for m in SCREEN_CLASSES)]
