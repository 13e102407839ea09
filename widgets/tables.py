"""Keeping a DataTable in step with new data by changing only the cells that changed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import CellKey, RowKey

from widgets.format import safe

Row = Sequence[Any]


class SyncedTable(DataTable):
    """A DataTable fed whole row sets; it applies only the difference: new rows are added, gone
    rows removed, and changed cells updated in place (never a rebuild). Every text cell is shown
    as data (`shown`). A changed cell wider than
    its column widens the column, as a new row would; nothing else re-measures a column."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, cursor_type="row", **kwargs)
        self._rows_cache: dict[str, tuple] = {}

    def sync(self, rows: Mapping[str, Row]) -> int:
        """Bring the table to `rows` (key → cells, in display order for new rows). Returns the
        number of cells written."""
        cache: dict[str, tuple] = self._rows_cache
        columns = list(self.columns)
        written = 0
        for key in [k for k in cache if k not in rows]:
            self.remove_row(key)
            del cache[key]
        for key, cells in rows.items():
            cells = tuple(cells)
            old = cache.get(key)
            if old is None:
                self.add_row(*(shown(c) for c in cells), key=key)
                written += len(cells)
            elif old != cells:
                written += self._set_cells(key, [(col, shown(b)) for col, a, b in zip(columns, old, cells) if a != b])
            cache[key] = cells
        if written:
            self.refresh()  # one repaint for the whole poll, not one per cell
        return written

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
        columns = self.columns
        for col, value in changes:
            row[col] = value
            column = columns.get(col)
            if column is not None and _width(value) > column.content_width:
                self._updated_cells.add(CellKey(row_key, col))  # measured at the next layout, like update_width
                self._require_update_dimensions = True
        self._update_count += len(changes)
        return len(changes)

    def reset(self) -> None:
        self.clear()
        self._rows_cache = {}

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
        return safe(cell)
    return cell


def _width(value: Any) -> int:
    """A cell's width in columns, cheaply (a str's markup counted as text: at worst the column is
    measured again); 0 for other renderables, which keep their column as it is."""
    if isinstance(value, str):
        return cell_len(value)
    if isinstance(value, Text):
        return value.cell_len
    return 0
