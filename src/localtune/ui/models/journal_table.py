"""The journal table: an id-only lazy model (Anki's browser table idea).

`RowCache` is the plain-Python part (napari's adapter idea: test it without Qt): it holds the ids of the
current view and the scenarios fetched so far, and says which page to fetch for a row. `JournalTableModel`
adapts it to Qt: `data()` for a row that is not cached yet shows a placeholder and asks `fetch` for that
page; when the page arrives the rows repaint. 10 000 entries cost 10 000 ints until someone scrolls.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt

from ...journal.models import Scenario

PAGE = 100
COLUMNS = ("Date", "Industry", "Situation", "Assessments", "Use")
USE_TIP = ("What training does with the entry. train: the model learns from it; eval: held out, never learned "
           "from, so the Evaluate page can measure the model on it; exclude: left out of both")
HEADER_TIPS = {"Assessments": "Each perspective's viewpoint and its assessment", "Use": USE_TIP}
LOADING = "…"


class RowCache:
    def __init__(self, page_size: int = PAGE):
        self.page_size = page_size
        self.ids: list[int] = []
        self.rows: dict[int, Scenario] = {}
        self._row_of: dict[int, int] = {}
        self.pending: set[int] = set()  # page numbers requested and not yet arrived

    def reset(self, ids: list[int], *, keep_rows: bool = True) -> None:
        self.ids = list(ids)
        self._row_of = {sid: row for row, sid in enumerate(self.ids)}
        if keep_rows:
            self.rows = {sid: s for sid, s in self.rows.items() if sid in self._row_of}
        else:
            self.rows = {}
        self.pending.clear()

    def row_of(self, scenario_id: int) -> int | None:
        return self._row_of.get(scenario_id)

    def get(self, row: int) -> Scenario | None:
        return self.rows.get(self.ids[row]) if 0 <= row < len(self.ids) else None

    def page_to_fetch(self, row: int) -> tuple[int, list[int]] | None:
        """(page, ids) to fetch for `row`, or None when it is cached or already on its way."""
        page = row // self.page_size
        if page in self.pending or self.get(row) is not None:
            return None
        start = page * self.page_size
        ids = [sid for sid in self.ids[start : start + self.page_size] if sid not in self.rows]
        if not ids:
            return None
        self.pending.add(page)
        return page, ids

    def store(self, page: int | None, scenarios: list[Scenario]) -> list[int]:
        """Cache arrived scenarios; returns the rows they occupy now."""
        if page is not None:
            self.pending.discard(page)
        rows = []
        for s in scenarios:
            row = self._row_of.get(s.id)
            if row is not None:
                self.rows[s.id] = s
                rows.append(row)
        return rows


def _assessments(s: Scenario) -> str:
    return ", ".join(f"{p.viewpoint}: {p.assessment}" for p in s.perspectives) or "(none yet)"


def _first_line(text: str, limit: int = 160) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


class JournalTableModel(QAbstractTableModel):
    """`fetch(ids, done)` must load those scenarios off the GUI thread and call `done(scenarios)` on it."""

    def __init__(self, fetch: Callable[[list[int], Callable[[list[Scenario]], None]], None], parent=None):
        super().__init__(parent)
        self._fetch = fetch
        self.cache = RowCache()
        self._generation = 0
        self.snippets: dict[int, str] = {}  # search results: the words around the matches, «marked»

    # -- Qt ----------------------------------------------------------------------------------------------

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self.cache.ids)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            return HEADER_TIPS.get(COLUMNS[section])
        return None

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.UserRole):
            return None
        row = index.row()
        if role == Qt.ItemDataRole.UserRole:
            return self.cache.ids[row]
        s = self.cache.get(row)
        if s is None:
            self._request(row)
            return LOADING
        col = index.column()
        if col == 0:
            return s.occurred_on
        if col == 1:
            return s.industry
        if col == 2:
            return self.snippets.get(s.id) or _first_line(s.situation)
        if col == 3:
            return _assessments(s)
        return s.use

    # -- loading -------------------------------------------------------------------------------------------

    def _request(self, row: int) -> None:
        wanted = self.cache.page_to_fetch(row)
        if wanted is None:
            return
        page, ids = wanted
        generation = self._generation
        self._fetch(ids, lambda scenarios: self._arrived(generation, page, scenarios))

    def _arrived(self, generation: int, page: int, scenarios: list[Scenario]) -> None:
        if generation != self._generation:
            return
        rows = self.cache.store(page, scenarios)
        if rows:
            self.dataChanged.emit(self.index(min(rows), 0), self.index(max(rows), len(COLUMNS) - 1))

    def set_ids(self, ids: list[int], snippets: dict[int, str] | None = None) -> None:
        self.beginResetModel()
        self._generation += 1
        self.cache.reset(ids)
        self.snippets = dict(snippets or {})
        self.endResetModel()

    def clear(self) -> None:
        """Forget everything (locking): no journal text stays in the model."""
        self.beginResetModel()
        self._generation += 1
        self.cache.reset([], keep_rows=False)
        self.snippets = {}
        self.endResetModel()

    def put(self, scenario: Scenario) -> None:
        """A saved scenario: refresh its row if it is shown."""
        for row in self.cache.store(None, [scenario]):
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))

    def id_at(self, row: int) -> int | None:
        return self.cache.ids[row] if 0 <= row < len(self.cache.ids) else None

    def row_of(self, scenario_id: int) -> int | None:
        return self.cache.row_of(scenario_id)

    def scenario(self, scenario_id: int) -> Scenario | None:
        return self.cache.rows.get(scenario_id)
