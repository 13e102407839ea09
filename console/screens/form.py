"""One modal form for every change the operator types: fields, enter to go on (the last field
saves), esc to cancel. The form stays open until the change is saved: an error (a refused verdict,
an unknown agent, a store that is down) is shown beside the field it is about, and what was typed
is kept. A field can be a list to pick from (the registered agents): space ticks, enter goes on.

`submit(values)` runs in a worker thread (it writes to the store) and returns the words of the
toast; it raises FieldError for one field, or any ConsoleError for the form as a whole."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Input, Label, SelectionList, Static
from textual.widgets.selection_list import Selection

from console.errors import ConsoleError
from widgets.format import safe


class FieldError(ConsoleError):
    """A value refused, shown beside its field."""

    kind = "field"

    def __init__(self, field_name: str, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint, data={"field": field_name})
        self.field = field_name


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    value: str = ""
    required: str | None = None  # the words shown when it is left empty
    choices: Sequence[tuple[str, str]] | None = None  # (label, value): a list to tick, not free text
    chosen: Sequence[str] = ()
    empty: str = ""  # said when there is nothing to choose from
    placeholder: str = ""


@dataclass
class _Saved(Message):
    words: str | None
    error: Exception | None = None
    values: dict = field(default_factory=dict)


class Picker(SelectionList):
    """A list to tick (space); enter goes on to the next field, as in a text field."""

    BINDINGS = [Binding("enter", "next", "Next / save", id="form.pick_next", show=False)]

    class Next(Message):
        def __init__(self, picker: "Picker") -> None:
            super().__init__()
            self.picker = picker

    def action_next(self) -> None:
        self.post_message(self.Next(self))


class Form(ModalScreen):
    """A title, fields, and a line of errors for the form as a whole."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="form.cancel"),
        Binding("ctrl+s", "save", "Save", id="form.save"),
    ]

    def __init__(self, title: str, fields: Sequence[Field | tuple[str, str, str]], *,
                 submit: Callable[[dict], str | None] | None = None, note: str = "") -> None:
        super().__init__()
        self.form_title = title
        self.fields = [f if isinstance(f, Field) else Field(*f) for f in fields]
        self.submit = submit
        self.note = note
        self.busy = False
        self._cursor = 0  # the field enter moves on from (two quick enters move two fields)

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        with VerticalScroll(id="form"):
            yield Static(safe(Text.assemble((self.form_title, "bold"))), id="form-title")
            if self.note:
                yield Static(safe(Text(self.note, style="dim"), multiline=True), classes="form-note")
            for f in self.fields:
                yield Label(safe(f.label))
                if f.choices is not None:
                    if f.choices:
                        yield Picker(*(Selection(safe(label), value, value in f.chosen) for label, value in f.choices),
                                     id=f"field-{f.name}", classes="form-picker")
                    else:
                        yield Static(safe(Text(f.empty or "nothing to choose from", style="yellow"), multiline=True),
                                     id=f"field-{f.name}", classes="form-empty")
                else:
                    yield Input(value=f.value, placeholder=f.placeholder, id=f"field-{f.name}")
                yield Static("", id=f"error-{f.name}", classes="field-error")
            yield Static("", id="form-error", classes="field-error")
            yield Static(Text("enter: next field, on the last one save · ctrl+s: save · esc: cancel"
                              + (" · space: tick" if any(f.choices for f in self.fields) else ""), style="dim"),
                         id="form-keys")

    def on_mount(self) -> None:
        for box in self.query(".field-error"):
            box.display = False
        widgets = self._widgets()
        if widgets:
            widgets[0].focus()

    def _widgets(self) -> list:
        return [w for w in (self.query_one(f"#field-{f.name}") for f in self.fields) if w.can_focus]

    # ------------------------------------------------------------------ keys
    def on_descendant_focus(self, event) -> None:
        widgets = self._widgets()
        if event.widget in widgets:
            self._cursor = widgets.index(event.widget)

    def _next_from(self, widget) -> None:
        widgets = self._widgets()
        i = max(widgets.index(widget) if widget in widgets else 0, self._cursor)
        if i + 1 < len(widgets):
            self._cursor = i + 1
            widgets[i + 1].focus()
            return
        self.action_save()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._next_from(event.input)

    @on(Picker.Next)
    def _picked(self, event: Picker.Next) -> None:
        event.stop()
        self._next_from(event.picker)

    def values(self) -> dict:
        out: dict = {}
        for f in self.fields:
            w = self.query_one(f"#field-{f.name}")
            if isinstance(w, Input):
                out[f.name] = w.value.strip()
            elif isinstance(w, SelectionList):
                out[f.name] = list(w.selected)
            else:
                out[f.name] = []
        return out

    def action_save(self) -> None:
        if self.busy:
            return
        self._clear_errors()
        values = self.values()
        for f in self.fields:
            if f.required and not values.get(f.name):
                self.show_error(FieldError(f.name, f.required))
                return
        if self.submit is None:
            self.dismiss(values)
            return
        self.busy = True
        self.query_one("#form-error", Static).update(Text("saving…", style="dim"))
        self.query_one("#form-error", Static).display = True
        self._save(values)

    @work(thread=True, exclusive=True, group="form", exit_on_error=False)
    def _save(self, values: dict) -> None:
        try:
            words = self.submit(values)
        except Exception as exc:  # noqa: BLE001 - every failure is shown in the form, the input kept
            self.post_message(_Saved(None, exc, values))
            return
        self.post_message(_Saved(words, None, values))

    @on(_Saved)
    def _saved(self, message: _Saved) -> None:
        self.busy = False
        self._clear_errors()
        if message.error is not None:
            self.show_error(message.error)
            return
        if message.words:
            self.app.notify(message.words, title=self.form_title.split(":")[0], timeout=6)
        app = self.app
        self.dismiss(message.values)
        if self.submit is not None and hasattr(app, "poll_now"):
            app.call_after_refresh(app.poll_now)  # the change on the screens now (no poll runs under a form)

    def _clear_errors(self) -> None:
        for box in self.query(".field-error"):
            box.update("")
            box.display = False

    def show_error(self, exc: Exception) -> None:
        """The error beside its field (or under the form), the field focused, what was typed kept."""
        name = getattr(exc, "field", None) or ((getattr(exc, "data", None) or {}).get("field")
                                               if isinstance(getattr(exc, "data", None), dict) else None)
        if isinstance(exc, ConsoleError):
            words = exc.message + (f"\nfix: {exc.hint}" if exc.hint else "")
        else:
            words = f"not saved: {exc}"
        boxes = self.query(f"#error-{name}") if name else []
        box = boxes.first() if boxes else self.query_one("#form-error", Static)
        box.update(safe(Text(words, style="bold red"), multiline=True))
        box.display = True
        if name:
            target = self.query(f"#field-{name}")
            if target and target.first().can_focus:
                target.first().focus()

    def action_cancel(self) -> None:
        self.dismiss(None)
