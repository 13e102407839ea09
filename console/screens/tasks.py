"""Tasks: a board by Mission Control's statuses. The tasks the agents create themselves appear here
too (the poller sees every change to the table). Create, assign, move and complete from the
keyboard. The rules (agent names, inbox → assigned, the flow) are console.service.tasks', shared with
`squad-console tasks`; every change goes through the store, which writes its activity to the audit log."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from console.screens.base import ConsoleScreen
from console.service.models import TASK_STATUSES
from widgets.format import safe
from widgets.tables import SyncedTable

LABELS = {"inbox": "Inbox", "assigned": "Assigned", "in_progress": "In progress", "review": "Review",
          "done": "Done", "blocked": "Blocked"}


class TaskForm(ModalScreen):
    """New task, or the assignees of one: fields, enter to save, esc to cancel."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="form.cancel")]

    def __init__(self, title: str, fields: list[tuple[str, str, str]]) -> None:
        super().__init__()
        self.form_title = title
        self.fields = fields  # (name, label, initial value)

    def compose(self) -> ComposeResult:
        with Vertical(id="form"):
            yield Static(safe(Text.assemble((self.form_title, "bold"), "  (enter: next / save · esc: cancel)")))
            for name, label, value in self.fields:
                yield Label(label)
                yield Input(value=value, id=f"field-{name}")
            yield Static("", id="form-error")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        inputs = list(self.query(Input))
        i = inputs.index(event.input)
        if i + 1 < len(inputs):
            inputs[i + 1].focus()
            return
        values = {name: self.query_one(f"#field-{name}", Input).value.strip() for name, _, _ in self.fields}
        if "title" in values and not values["title"]:
            self.query_one("#form-error", Static).update("[red]a task needs a title[/red]")
            inputs[0].focus()
            return
        self.dismiss(values)

    def action_cancel(self) -> None:
        self.dismiss(None)


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

    def draw(self, view) -> None:
        names = {a.id: a.agent_id for a in view.agents.values()}
        columns: dict[str, dict] = {s: {} for s in TASK_STATUSES}
        for t in view.tasks:
            who = ",".join(names.get(i, "?") for i in t.assignee_ids)
            if not self.matches(t.title, who, t.status, t.description):
                continue
            columns.setdefault(t.status, {})[t.id] = (f"{t.title}" + (f" · {who}" if who else ""),)
        for status in TASK_STATUSES:
            table = self.query_one(f"#col-{status}", SyncedTable)
            table.sync(columns.get(status, {}))
            table.border_title = f"{LABELS[status]} {len(columns.get(status, {}))}"

    def on_data_table_row_highlighted(self, event) -> None:
        key = event.row_key.value if event.row_key else None
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
        focused = self.focused
        if isinstance(focused, SyncedTable) and focused.id and focused.id.startswith("col-"):
            key = focused.selected_key()
            if key and self.view is not None:
                task = next((t for t in self.view.tasks if t.id == key), None)
                if task is not None:
                    return key, task
        self.app.notify("select a task first (tab between columns, arrows within)", severity="warning", timeout=3)
        return None

    def action_new(self) -> None:
        def created(values) -> None:
            if values:
                self._write(lambda store, tasks: "created: " + tasks.create(
                    store, values["title"], values.get("description", ""), tasks.split_names(values.get("assign", ""))).title)

        self.app.push_screen(TaskForm("New task", [("title", "Title", ""), ("description", "Description", ""),
                                                   ("assign", "Assign to (OpenClaw ids, comma-separated)", "")]),
                             created)

    def action_assign(self) -> None:
        picked = self._selected()
        if picked is None:
            return
        task_id, task = picked
        names = {a.id: a.agent_id for a in self.view.agents.values()}
        current = ",".join(names.get(i, "") for i in task.assignee_ids)

        def assigned(values) -> None:
            if values is not None:
                self._write(lambda store, tasks: "assigned: " + tasks.assign(
                    store, task, tasks.split_names(values["assign"])).title)

        self.app.push_screen(TaskForm(f"Assign: {task.title}", [("assign", "Agents (OpenClaw ids, comma-separated)", current)]),
                             assigned)

    def action_move(self, step: int) -> None:
        from console.service.tasks import stepped

        picked = self._selected()
        if picked is None:
            return
        task_id, task = picked
        target = stepped(task.status, step)
        if target != task.status:
            self._write(lambda store, tasks: self._moved(tasks.move(store, task_id, target)))

    def action_done(self) -> None:
        picked = self._selected()
        if picked is not None:
            self._write(lambda store, tasks: self._moved(tasks.done(store, picked[0])))

    def action_block(self) -> None:
        picked = self._selected()
        if picked is not None:
            self._write(lambda store, tasks: self._moved(tasks.block(store, picked[0])))

    def action_remove(self) -> None:
        picked = self._selected()
        if picked is None:
            return
        task_id, task = picked

        def confirmed(values) -> None:
            if values is None:
                return
            if values.get("confirm", "").lower() != "yes":
                self.app.notify("not removed (type yes to remove it)", title="Task", severity="warning", timeout=4)
                return
            self._write(lambda store, tasks: "removed: " + tasks.remove(store, task_id).title)

        self.app.push_screen(TaskForm(f"Remove: {task.title}",
                                      [("confirm", 'Type "yes" to remove it (audited; its messages stay)', "")]),
                             confirmed)

    @staticmethod
    def _moved(task) -> str:
        return f"{task.title} → {task.status}"

    @work(thread=True, exclusive=False, group="tasks", exit_on_error=False)
    def _write(self, change) -> None:
        """Run one change (a function of the store and the task use cases returning its words)."""
        from console.service import tasks
        from console.service.store import StoreError

        try:
            message = change(self.app.store, tasks)
        except (tasks.TaskError, StoreError) as exc:
            self.app.call_from_thread(self.app.notify, exc.describe(), title="Not saved", severity="error", timeout=8)
            return
        self.app.call_from_thread(self.app.notify, message, title="Task", timeout=3)
        self.app.call_from_thread(self.app.poll_now)
