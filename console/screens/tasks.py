"""Tasks: a board by Mission Control's statuses. The tasks the agents create themselves appear here
too (the poller sees every change to the table). Create, assign, move and complete from the
keyboard. The rules (agent names, inbox → assigned, the flow) are console.service.tasks', shared with
`squad-console tasks`; every change goes through the store, which writes its activity to the audit log."""

from __future__ import annotations

from dataclasses import replace

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Static

from console.screens.base import ConsoleScreen
from console.screens.form import Field, Form
from console.service.models import TASK_STATUSES
from widgets.format import safe
from widgets.tables import SyncedTable

LABELS = {"inbox": "Inbox", "assigned": "Assigned", "in_progress": "In progress", "review": "Review",
          "done": "Done", "blocked": "Blocked"}
SHORT = {"in_progress": "Doing", "assigned": "To do"}  # column titles that fit 80 columns


TaskForm = Form  # the forms of this screen (and the Pipeline's) are the one Form


def agent_choices(app, view, chosen_doc_ids=()) -> tuple[list[tuple[str, str]], list[str]]:
    """The agents to pick from: the store's, then squad.toml's not yet registered (registered when
    the form is saved, as `agents sync` would). (choices as (label, OpenClaw id), the ids ticked)."""
    stored = {a.agent_id: a for a in view.agents.values()} if view else {}
    choices, chosen = [], []
    for agent_id, a in sorted(stored.items()):
        choices.append((f"{a.name} ({agent_id})" + (f" · {a.role}" if a.role else ""), agent_id))
        if a.id in chosen_doc_ids:
            chosen.append(agent_id)
    for cfg in app.settings.agents:
        if cfg.id not in stored:
            choices.append((f"{cfg.name} ({cfg.id}) · in squad.toml, registered when saved", cfg.id))
    return choices, chosen


NO_AGENTS = ("No agent to assign: squad.toml names none and the store holds none. Import OpenClaw's "
             "agents with i on the Agents screen (squad-console agents import), or add [[agents]] to squad.toml.")


def register_missing(store, settings, agent_ids) -> list[str]:
    """Register the picked agents that are only in squad.toml (the ids registered)."""
    from console.service.agents import squad_specs, upsert

    known = {a.agent_id for a in store.list_agents()}
    missing = [i for i in agent_ids if i not in known]
    if missing:
        upsert(store, squad_specs(settings, only=missing))
    return missing


class TasksScreen(ConsoleScreen):
    TITLE = "Tasks"
    BINDINGS = [
        Binding("n", "new", "New", id="tasks.new"),
        Binding("a", "assign", "Assign", id="tasks.assign"),
        Binding("right_square_bracket", "move(1)", "Move →", id="tasks.forward"),
        Binding("left_square_bracket", "move(-1)", "← Move", id="tasks.back"),
        Binding("d", "done", "Done", id="tasks.done"),
        Binding("b", "block", "Block", id="tasks.block"),
        Binding("x", "remove", "Remove", id="tasks.remove"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._follow: tuple[str, str] | None = None  # (task id, status): focus it once the poll shows it there

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="board"):
            for status in TASK_STATUSES:
                table = SyncedTable(id=f"col-{status}", classes="board-column", show_header=False)
                table.border_title = LABELS[status]
                yield table
        yield Static("", id="task-detail")

    def on_mount(self) -> None:
        for status in TASK_STATUSES:
            self.query_one(f"#col-{status}", SyncedTable).add_column(LABELS[status], key="task")
        super().on_mount()
        self.query_one("#col-inbox", SyncedTable).focus()

    def on_resize(self, event) -> None:
        self._titles()

    def _titles(self) -> None:
        """Each column's name on top (shortened when the column is narrow), its count below."""
        for status in TASK_STATUSES:
            table = self.query_one(f"#col-{status}", SyncedTable)
            count = len(table._rows_cache)
            label = LABELS[status]
            if table.size.width and len(label) + 6 > table.size.width:  # corners and padding take 6
                label = SHORT.get(status, label)
            table.border_title = label
            table.border_subtitle = str(count)

    def draw(self, view) -> None:
        names = {a.id: a.agent_id for a in view.agents.values()}
        columns: dict[str, dict] = {s: {} for s in TASK_STATUSES}
        for t in view.tasks:
            who = ",".join(names.get(i, "?") for i in t.assignee_ids)
            if not self.matches(t.title, who, t.status, t.description):
                continue
            columns.setdefault(t.status, {})[t.id] = (f"{t.title}" + (f" · {who}" if who else ""),)
        for status in TASK_STATUSES:
            self.query_one(f"#col-{status}", SyncedTable).sync(columns.get(status, {}))
        self._titles()
        if self._follow is not None:
            task_id, status = self._follow
            if task_id in columns.get(status, {}):
                self._follow = None
                table = self.query_one(f"#col-{status}", SyncedTable)
                table.focus()
                table.move_to(task_id)
        self._detail(self._focused_key())

    def _focused_key(self) -> str | None:
        focused = self.focused
        if isinstance(focused, SyncedTable) and focused.id and focused.id.startswith("col-"):
            return focused.selected_key()
        return None

    def on_data_table_row_highlighted(self, event) -> None:
        if event.data_table is self.focused:
            self._detail(event.row_key.value if event.row_key else None)

    def on_descendant_focus(self, event) -> None:
        if isinstance(event.widget, SyncedTable):
            self._detail(event.widget.selected_key())

    def _detail(self, key: str | None) -> None:
        task = next((t for t in self.view.tasks if t.id == key), None) if self.view and key else None
        box = self.query_one("#task-detail", Static)
        if task is None:
            box.update("")
            return
        names = {a.id: a.agent_id for a in self.view.agents.values()}
        who = ", ".join(names.get(i, i) for i in task.assignee_ids) or "nobody"
        text = Text()
        text.append(task.title, style="bold")
        text.append(f" · {LABELS.get(task.status, task.status)} · {who} · {task.id}\n")
        text.append(task.description or "", style="dim")
        box.update(safe(text, multiline=True))

    # ----------------------------------------------------------------- actions
    def _selected(self) -> tuple[str, object] | None:
        if self._follow is not None and self.view is not None:
            # a card just moved and the poll has not shown it yet: the keys still act on it
            # (`]` `]` moves one task two columns, never two tasks)
            task_id, status = self._follow
            task = next((t for t in self.view.tasks if t.id == task_id), None)
            if task is not None:
                return task_id, replace(task, status=status)
        key = self._focused_key()
        if key and self.view is not None:
            task = next((t for t in self.view.tasks if t.id == key), None)
            if task is not None:
                return key, task
        self.app.notify("select a task first (tab between columns, arrows within)", severity="warning", timeout=3)
        return None

    def _agents_field(self, chosen_doc_ids=()) -> Field:
        choices, chosen = agent_choices(self.app, self.view, chosen_doc_ids)
        return Field("assign", "Assign to (space ticks an agent)", choices=choices, chosen=chosen, empty=NO_AGENTS)

    def action_new(self) -> None:
        app = self.app

        def submit(values) -> str:
            from console.service import tasks

            register_missing(app.store, app.settings, values["assign"])
            task = tasks.create(app.store, values["title"], values.get("description", ""), values["assign"])
            self._follow = (task.id, task.status)  # the focus goes to the new card (its column, not the inbox)
            who = ", ".join(values["assign"])
            return f"created: {task.title}" + (f" (assigned to {who})" if who else " (in the inbox)")

        self.app.push_screen(Form("New task", [Field("title", "Title", required="a task needs a title"),
                                               Field("description", "Description"), self._agents_field()],
                                  submit=submit))

    def action_assign(self) -> None:
        picked = self._selected()
        if picked is None:
            return
        task_id, task = picked
        app = self.app

        def submit(values) -> str:
            from console.service import tasks

            register_missing(app.store, app.settings, values["assign"])
            done = tasks.assign(app.store, task, values["assign"])
            self._follow = (task_id, done.status)
            return f"{done.title}: " + (f"assigned to {', '.join(values['assign'])}" if values["assign"] else "nobody assigned")

        self.app.push_screen(Form(f"Assign: {task.title}", [self._agents_field(task.assignee_ids)], submit=submit))

    def action_move(self, step: int) -> None:
        from console.service.tasks import stepped

        picked = self._selected()
        if picked is None:
            return
        task_id, task = picked
        target = stepped(task.status, step)
        if target != task.status:
            self._change(task_id, target, lambda store, tasks: self._moved(tasks.move(store, task_id, target)))

    def action_done(self) -> None:
        picked = self._selected()
        if picked is not None:
            self._change(picked[0], "done", lambda store, tasks: self._moved(tasks.done(store, picked[0])))

    def action_block(self) -> None:
        picked = self._selected()
        if picked is not None:
            self._change(picked[0], "blocked", lambda store, tasks: self._moved(tasks.block(store, picked[0])))

    def _change(self, task_id: str, status: str, change) -> None:
        self._follow = (task_id, status)  # the focus follows the card to its column
        self._write(change)

    def action_remove(self) -> None:
        picked = self._selected()
        if picked is None:
            return
        task_id, task = picked
        app = self.app

        def submit(values) -> str:
            from console.service import tasks
            from console.screens.form import FieldError

            if values.get("confirm", "").lower() != "yes":
                raise FieldError("confirm", "type yes to remove it (esc keeps it)")
            removed = tasks.remove(app.store, task_id)
            return f"removed: {removed.title}"

        self.app.push_screen(Form(f"Remove: {task.title}",
                                  [Field("confirm", 'Type "yes" to remove it (audited; its messages stay)')],
                                  submit=submit))

    @staticmethod
    def _moved(task) -> str:
        return f"{task.title} → {LABELS.get(task.status, task.status)}"

    @work(thread=True, exclusive=False, group="tasks", exit_on_error=False)
    def _write(self, change) -> None:
        """Run one change (a function of the store and the task use cases returning its words)."""
        from console.service import tasks
        from console.service.store import StoreError

        try:
            message = change(self.app.store, tasks)
        except (tasks.TaskError, StoreError) as exc:
            self._follow = None
            self.app.call_from_thread(self.app.notify, exc.describe(), title="Not saved", severity="error", timeout=8)
            return
        self.app.call_from_thread(self.app.notify, message, title="Task", timeout=3)
        self.app.call_from_thread(self.app.poll_now)
