"""Keeping a DataTable in step with new data by changing only the cells that changed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from textual.widgets import DataTable

Row = Sequence[Any]


class SyncedTable(DataTable):
    """A DataTable fed whole row sets; it applies only the difference: new rows are added, gone
    rows removed, and changed cells updated in place (never a rebuild, never update_width)."""

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
                self.add_row(*cells, key=key)
                written += len(cells)
            elif old != cells:
                for col, (a, b) in zip(columns, zip(old, cells)):
                    if a != b:
                        self.update_cell(key, col, b)
                        written += 1
            cache[key] = cells
        return written

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
