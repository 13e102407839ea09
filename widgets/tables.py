"""Keeping a DataTable in step with new data by changing only the cells that changed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.cells import cell_len
from rich.padding import Padding
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.cache import LRUCache
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
        # see _render_cell (before DataTable's __init__: setting the cursor type empties them)
        self._drawn: LRUCache[tuple, tuple[Any, Any]] = LRUCache(4096)
        self._laid: LRUCache[tuple, tuple[Any, Any]] = LRUCache(4096)
        super().__init__(*args, cursor_type="row", **kwargs)
        self._rows_cache: dict[str, tuple] = {}
        self.flex = flex
        self.fill = fill  # room left over goes to the flexible column (a list), or stays empty (a summary)
        self.minimum = dict(minimum or {})
        self._natural: list[int] = []
        self._laid_out: tuple | None = None

    def add_column(self, label, *args, **kwargs):
        """A column's label is words, never markup (and a str label would be parsed as markup:
        rich's emoji table is imported for that alone, at start-up)."""
        return super().add_column(Text(label) if isinstance(label, str) else label, *args, **kwargs)

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

    def _measure_changed(self, changed: list[tuple[int, Any]]) -> bool:
        """`_measure` for a row's changed cells only (the others were measured when they came)."""
        if len(self._natural) != len(self.columns):
            self._measure_all()
            return True
        grew = False
        natural = self._natural
        for i, cell in changed:
            if i < len(natural):
                w = _width(cell)
                if w > natural[i]:
                    natural[i], grew = w, True
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
                changed = [(i, b) for i, (a, b) in enumerate(zip(old, cells)) if a != b]
                written += self._set_cells(key, [(columns[i], shown(b)) for i, b in changed if i < len(columns)])
                cache[key] = cells
                relayout |= self._measure_changed(changed)
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

    # ------------------------------------------------------------------ drawing
    def _render_cell(self, row_index: int, column_index: int, base_style, width: int, cursor: bool = False,
                     hover: bool = False):
        """DataTable's cell, drawn again only when the cell changed. DataTable keys its cell cache
        on a table-wide update count, so one changed cell redraws every visible cell through Rich;
        at a thousand agents a poll changes a few cells of each row. Here a body cell's drawing is
        kept while the cell holds the same value (`sync` replaces only the values that changed)
        and all else it depends on is the same (position, width, styles, cursor, hover, focus),
        and a one-line Text is laid out (padded, cut with its ellipsis) once per value and width:
        the styles are put on that layout as DataTable's `Styled` would, segment by segment.
        Any restyle empties both. (textual is pinned: this is 8.2.8's `_render_cell`, the same
        segments; tests/test_tui.py compares the two.)"""
        if row_index < self.fixed_rows or column_index < self.fixed_columns:  # header, labels, fixed
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        row_key = self._row_locations.get_key(row_index)
        column_key = self._column_locations.get_key(column_index)
        row = self._data.get(row_key)
        meta = self.rows.get(row_key)
        if row is None or meta is None:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        value = row.get(column_key)
        show_cursor, show_hover = self.show_cursor, self._show_hover_cursor
        key = (row_key, column_key, row_index, column_index, base_style, width, meta.height, cursor, hover,
               show_cursor, show_hover, self._pseudo_class_state, self.cell_padding,
               self.cursor_foreground_priority, self.cursor_background_priority)
        hit = self._drawn.get(key)
        if hit is not None and hit[0] is value:
            return hit[1]
        if type(value) is not Text or meta.height != 1:
            lines = super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        else:
            pad = self.cell_padding
            laid = self._laid.get((id(value), width, pad))
            if laid is None or laid[0] is not value:
                options = self.app.console_options.update_dimensions(width, 1).update(no_wrap=True)
                laid = (value, self.app.console.render_lines(Padding(value, (0, pad)), options))
                self._laid[(id(value), width, pad)] = laid
            component_style, post_style = self._get_styles_to_render_cell(
                False, False, False, hover, cursor, show_cursor, show_hover,
                self.cursor_foreground_priority == "css", self.cursor_background_priority == "css")
            pre_style = base_style + Style.from_meta({"row": row_index, "column": column_index}) + component_style
            lines = [list(Segment.apply_style(line, pre_style, post_style)) for line in laid[1]]
        self._drawn[key] = (value, lines)
        return lines

    def _clear_caches(self) -> None:
        super()._clear_caches()
        self._drawn.clear()
        self._laid.clear()

    def notify_style_update(self) -> None:
        self._drawn.clear()
        self._laid.clear()
        super().notify_style_update()

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


_SHOWN: dict[str, Text] = {}  # str cell → its Text: a poll's cells repeat ("12:30", "100.0%", "-")


def shown(cell: Any) -> Any:
    """A cell as the table draws it: text is data, never markup (a str given to a DataTable is
    parsed as markup: `[/api/login]` would raise, `[@click=app.quit]` would be a live action),
    with control characters shown visibly. Only added and changed cells pass here. A str's Text
    is made once and shared by every cell showing the same words (tables never change a cell's
    Text in place: `sync` replaces it)."""
    if type(cell) is str:
        text = _SHOWN.get(cell)
        if text is None:
            if len(_SHOWN) >= 8192:
                _SHOWN.clear()
            text = _SHOWN[cell] = safe(cell)
            text.overflow, text.no_wrap = "ellipsis", True
        return text
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
