"""One module per screen. MODES maps the app's modes (switched with the digit keys) to screens."""

from __future__ import annotations


def _modes() -> dict:
    from console.screens.agents import AgentsScreen
    from console.screens.heartbeats import HeartbeatsScreen
    from console.screens.overview import OverviewScreen
    from console.screens.audit import AuditScreen
    from console.screens.placeholder import PipelineScreen
    from console.screens.tasks import TasksScreen
    from console.screens.vault import VaultScreen

    return {
        "overview": OverviewScreen,
        "agents": AgentsScreen,
        "heartbeats": HeartbeatsScreen,
        "vault": VaultScreen,
        "pipeline": PipelineScreen,
        "tasks": TasksScreen,
        "audit": AuditScreen,
    }


def __getattr__(name: str):
    if name == "MODES":
        return _modes()
    raise AttributeError(name)


def all_screen_classes() -> list[type]:
    from console.screens.base import ConsoleScreen
    from console.screens.detail import AgentDetailScreen
    from console.screens.audit import ActivityDetail
    from console.screens.help import HelpScreen
    from console.screens.tasks import TaskForm
    from console.screens.vault import MigrationWizard

    return [ConsoleScreen, AgentDetailScreen, HelpScreen, TaskForm, ActivityDetail, MigrationWizard,
            *_modes().values()]
