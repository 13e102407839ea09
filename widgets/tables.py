"""Keeping a DataTable in step with new data by changing only the cells that changed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import RowKey

from widgets.format import safe

Row = Sequence[Any]


class SyncedTable(DataTable):
    """A DataTable fed whole row sets; it applies only the difference: new rows are added, gone
    rows removed, and changed cells updated in place (never a rebuild). Every text cell is shown
    as data (`shown`), on one line, cut with an ellipsis when its column is narrower.

    The columns are laid out here, not by the first content: each is as wide as its widest cell
    (or its label); when they do not fit, the widest column gives way a cell at a time (down to its
    minimum), so the wide ones end equal and the narrow ones whole; when there is room left the
    flexible column (`flex`, else the widest) takes it. Re-laid out when the size or a column's widest cell
    changes (a changed cell is measured, not the whole column, unless a row went away)."""

    def __init__(self, *args, flex: str | None = None, minimum: Mapping[str, int] | None = None,
                 fill: bool = True, **kwargs) -> None:
        super().__init__(*args, cursor_type="row", **kwargs)
        self._rows_cache: dict[str, tuple] = {}
        self.flex = flex
        self.fill = fill  # room left over goes to the flexible column (a list), or stays empty (a summary)
        self.minimum = dict(minimum or {})
        self._natural: list[int] = []
        self._laid_out: tuple | None = None

    # ------------------------------------------------------------------ layout
    def on_resize(self, event) -> None:
        self.fit_columns()

    def _measure_all(self) -> None:
        columns = list(self.columns.values())
        natural = [cell_len(c.label.plain) for c in columns]
        for cells in self._rows_cache.values():
            for i, cell in enumerate(cells[:len(natural)]):
                w = _width(cell)
                if w > natural[i]:
                    natural[i] = w
        self._natural = natural

    def _measure(self, cells: tuple) -> bool:
        if len(self._natural) != len(self.columns):
            self._measure_all()
            return True
        grew = False
        for i, cell in enumerate(cells[:len(self._natural)]):
            w = _width(cell)
            if w > self._natural[i]:
                self._natural[i], grew = w, True
        return grew

    def fit_columns(self) -> None:
        """Give every column its width for the table's current size (see the class docstring)."""
        columns = list(self.columns.values())
        if not columns or not self.size.width:
            return
        if len(self._natural) != len(columns):
            self._measure_all()
        pad = 2 * self.cell_padding
        room = self.scrollable_content_region.width - pad * len(columns)
        key = (room, tuple(self._natural))
        if key == self._laid_out:
            return
        self._laid_out = key
        widths = list(self._natural)
        keys = [c.key.value for c in columns]
        mins = [min(widths[i], self.minimum[k] if k in self.minimum else max(min(cell_len(columns[i].label.plain), 8), 3))
                for i, k in enumerate(keys)]
        flex = keys.index(self.flex) if self.flex in keys else max(range(len(widths)), key=lambda i: widths[i])
        excess = sum(widths) - room
        while excess > 0:  # the widest column gives a cell at a time (the flexible one on a tie)
            i = max((j for j in range(len(widths)) if widths[j] > mins[j]), default=None,
                    key=lambda j: (widths[j], j == flex))
            if i is None:
                break
            widths[i] -= 1
            excess -= 1
        if excess < 0 and self.fill:
            widths[flex] += -excess
        for column, width in zip(columns, widths):
            column.auto_width = False
            column.width = width
        self._clear_caches()
        self._update_count += 1
        self._require_update_dimensions = True
        self.refresh()

    def sync(self, rows: Mapping[str, Row]) -> int:
        """Bring the table to `rows` (key → cells, in display order for new rows). Returns the
        number of cells written."""
        cache: dict[str, tuple] = self._rows_cache
        columns = list(self.columns)
        written = 0
        removed = False
        for key in [k for k in cache if k not in rows]:
            self.remove_row(key)
            del cache[key]
            removed = True
        relayout = removed
        for key, cells in rows.items():
            cells = tuple(cells)
            old = cache.get(key)
            if old is None:
                self.add_row(*(shown(c) for c in cells), key=key)
                written += len(cells)
                cache[key] = cells
                relayout |= self._measure(cells)
            elif old != cells:
                written += self._set_cells(key, [(col, shown(b)) for col, a, b in zip(columns, old, cells) if a != b])
                cache[key] = cells
                relayout |= self._measure(cells)
        if list(cache) != list(rows):
            written += self._reorder(rows)
        if relayout:
            if removed:  # a column may be narrower now
                self._measure_all()
            self.fit_columns()
        if written:
            self.refresh()  # one repaint for the whole poll, not one per cell
        return written

    def _reorder(self, rows: Mapping[str, Row]) -> int:
        """The rows in the order given (new rows on top of a newest-first log, a filter cleared):
        rebuilt, the cursor kept on its row."""
        selected = self.selected_key()
        scroll_y = self.scroll_y
        self.clear()
        self._rows_cache = {}
        for key, cells in rows.items():
            cells = tuple(cells)
            self.add_row(*(shown(c) for c in cells), key=key)
            self._rows_cache[key] = cells
        if selected is not None and selected in self._rows_cache:
            self.move_to(selected)
        else:
            self.scroll_y = scroll_y
        return sum(len(c) for c in self._rows_cache.values())

    def _set_cells(self, key: str, changes: list[tuple[Any, Any]]) -> int:
        """update_cell without its per-cell refresh (textual is pinned: 8.2.8's DataTable keeps
        cells in `_data[row_key][column_key]` and bumps `_update_count` to drop its render caches)."""
        row_key = RowKey(key)
        data = getattr(self, "_data", None)
        if data is None or row_key not in data:
            for col, value in changes:
                self.update_cell(key, col, value)
            return len(changes)
        row = data[row_key]
        for col, value in changes:
            row[col] = value
        self._update_count += len(changes)
        return len(changes)

    def reset(self) -> None:
        self.clear()
        self._rows_cache = {}
        self._natural = []
        self._laid_out = None

    def move_to(self, key: str) -> bool:
        """The cursor on the row `key` (when the table has it)."""
        try:
            self.move_cursor(row=self.get_row_index(key))
        except Exception:  # noqa: BLE001 - no such row (yet)
            return False
        return True

    def selected_key(self) -> str | None:
        if not self.row_count:
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:
            return None


def shown(cell: Any) -> Any:
    """A cell as the table draws it: text is data, never markup (a str given to a DataTable is
    parsed as markup: `[/api/login]` would raise, `[@click=app.quit]` would be a live action),
    with control characters shown visibly. Only added and changed cells pass here."""
    if isinstance(cell, (str, Text)):
        text = safe(cell)
        if text.overflow != "ellipsis" or not text.no_wrap:
            text = text.copy() if text is cell else text
            text.overflow, text.no_wrap = "ellipsis", True
        return text
    return cell


def _width(value: Any) -> int:
    """A cell's width in columns, cheaply (a str's markup counted as text: at worst the column is
    measured again); 0 for other renderables, which keep their column as it is."""
    if isinstance(value, str):
        return cell_len(value)
    if isinstance(value, Text):
        return value.cell_len
    return 0
