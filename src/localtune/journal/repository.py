"""The journal over the vault: CRUD, ranked full-text search (FTS5) and filters.

List views work on ids only (`ids()`), then fetch the rows they show (`get_many()`), so a journal of
10 000 scenarios pages as fast as a small one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ..errors import InvalidInputError, NotFoundError
from ..vault.store import Vault, now_iso
from .models import Perspective, Scenario, problems

_WORD = re.compile(r"\w+", re.UNICODE)
_BATCH = 500


@dataclass(frozen=True)
class Filters:
    industry: str | None = None
    assessment: str | None = None
    viewpoint: str | None = None
    tag: str | None = None
    use: str | None = None

    def sql(self) -> tuple[str, list]:
        clauses, args = [], []
        if self.industry:
            clauses.append("s.industry = ? COLLATE NOCASE")
            args.append(self.industry)
        if self.use:
            clauses.append("s.use = ?")
            args.append(self.use)
        if self.assessment or self.viewpoint:
            inner, inner_args = ["p.scenario_id = s.id"], []
            if self.assessment:
                inner.append("p.assessment = ?")
                inner_args.append(self.assessment)
            if self.viewpoint:
                inner.append("p.viewpoint = ? COLLATE NOCASE")
                inner_args.append(self.viewpoint)
            clauses.append(f"EXISTS (SELECT 1 FROM perspectives p WHERE {' AND '.join(inner)})")
            args += inner_args
        if self.tag:
            clauses.append("EXISTS (SELECT 1 FROM json_each(s.tags) WHERE value = ? COLLATE NOCASE)")
            args.append(self.tag)
        return (" AND ".join(clauses) or "1"), args


def fts_query(text: str) -> str | None:
    """User text -> a safe FTS5 query: every word must match, the last one as a prefix (search as you type)."""
    words = _WORD.findall(text)
    if not words:
        return None
    quoted = [f'"{w}"' for w in words]
    quoted[-1] += "*"
    return " ".join(quoted)


class Journal:
    def __init__(self, vault: Vault):
        self.vault = vault

    # -- writing -----------------------------------------------------------------------------------------

    def add(self, scenario: Scenario) -> int:
        return self.add_many([scenario])[0]

    def add_many(self, scenarios: Iterable[Scenario]) -> list[int]:
        """Add scenarios in one transaction: all are stored, or (on any error) none."""
        scenarios = list(scenarios)
        for number, scenario in enumerate(scenarios, 1):
            _require_valid(scenario, f"scenario {number}")
        ids = []
        with self.vault.transaction() as conn:
            for scenario in scenarios:
                ids.append(self._insert(conn, scenario))
        return ids

    def _insert(self, conn, s: Scenario) -> int:
        stamp = now_iso()
        created = s.created_at or stamp
        updated = s.updated_at or stamp
        row_id = conn.execute(
            "INSERT INTO scenarios(id, occurred_on, industry, context, situation, people, tags, use, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (s.id, s.occurred_on, s.industry, s.context, s.situation, json.dumps(s.people, ensure_ascii=False),
             json.dumps(s.tags, ensure_ascii=False), s.use, created, updated),
        ).lastrowid
        self._write_children(conn, row_id, s)
        s.id, s.created_at, s.updated_at = row_id, created, updated
        return row_id

    def _write_children(self, conn, row_id: int, s: Scenario) -> None:
        conn.executemany(
            "INSERT INTO perspectives(scenario_id, position, viewpoint, assessment, analysis) VALUES (?, ?, ?, ?, ?)",
            [(row_id, i, p.viewpoint.strip(), p.assessment, p.analysis) for i, p in enumerate(s.perspectives)],
        )
        conn.execute(
            "INSERT INTO scenario_fts(rowid, situation, context, analyses, industry, tags) VALUES (?, ?, ?, ?, ?, ?)",
            (row_id, s.situation, s.context, "\n".join(p.analysis for p in s.perspectives), s.industry, " ".join(s.tags)),
        )

    def update(self, scenario: Scenario) -> None:
        if scenario.id is None:
            raise InvalidInputError("Only a saved scenario can be updated.")
        _require_valid(scenario, f"scenario {scenario.id}")
        scenario.updated_at = now_iso()
        with self.vault.transaction() as conn:
            changed = conn.execute(
                "UPDATE scenarios SET occurred_on = ?, industry = ?, context = ?, situation = ?, people = ?, tags = ?,"
                " use = ?, updated_at = ? WHERE id = ?",
                (scenario.occurred_on, scenario.industry, scenario.context, scenario.situation,
                 json.dumps(scenario.people, ensure_ascii=False), json.dumps(scenario.tags, ensure_ascii=False),
                 scenario.use, scenario.updated_at, scenario.id),
            ).rowcount
            if not changed:
                raise NotFoundError(f"There is no scenario {scenario.id}.")
            conn.execute("DELETE FROM perspectives WHERE scenario_id = ?", (scenario.id,))
            conn.execute("DELETE FROM scenario_fts WHERE rowid = ?", (scenario.id,))
            self._write_children(conn, scenario.id, scenario)

    def delete(self, scenario_id: int) -> Scenario:
        """Delete and return the scenario (pass it to `add` to undo: it keeps its id and timestamps)."""
        scenario = self.get(scenario_id)
        with self.vault.transaction() as conn:
            conn.execute("DELETE FROM scenario_fts WHERE rowid = ?", (scenario_id,))
            conn.execute("DELETE FROM scenarios WHERE id = ?", (scenario_id,))
        return scenario

    def delete_many(self, ids: list[int]) -> list[Scenario]:
        """Delete these scenarios in one transaction (all or none) and return them, for undo, in the order given."""
        scenarios = self.get_many(ids)
        if len(scenarios) != len(set(ids)):
            raise NotFoundError("Some of these entries are no longer in the journal; nothing was deleted.")
        with self.vault.transaction() as conn:
            for scenario in scenarios:
                conn.execute("DELETE FROM scenario_fts WHERE rowid = ?", (scenario.id,))
                conn.execute("DELETE FROM scenarios WHERE id = ?", (scenario.id,))
        return scenarios

    # -- reading -----------------------------------------------------------------------------------------

    def get(self, scenario_id: int) -> Scenario:
        found = self.get_many([scenario_id])
        if not found:
            raise NotFoundError(f"There is no scenario {scenario_id}.")
        return found[0]

    def get_many(self, ids: list[int]) -> list[Scenario]:
        """The scenarios with these ids, in the order given (unknown ids are left out)."""
        conn = self.vault.conn
        by_id: dict[int, Scenario] = {}
        for start in range(0, len(ids), _BATCH):
            batch = ids[start : start + _BATCH]
            marks = ",".join("?" * len(batch))
            for r in conn.execute(
                "SELECT id, occurred_on, industry, context, situation, people, tags, use, created_at, updated_at"
                f" FROM scenarios WHERE id IN ({marks})", batch
            ):
                by_id[r[0]] = Scenario(
                    id=r[0], occurred_on=r[1], industry=r[2], context=r[3], situation=r[4],
                    people=json.loads(r[5]), tags=json.loads(r[6]), use=r[7], created_at=r[8], updated_at=r[9],
                )
            for r in conn.execute(
                "SELECT scenario_id, id, viewpoint, assessment, analysis FROM perspectives"
                f" WHERE scenario_id IN ({marks}) ORDER BY scenario_id, position", batch
            ):
                by_id[r[0]].perspectives.append(Perspective(id=r[1], viewpoint=r[2], assessment=r[3], analysis=r[4]))
        return [by_id[i] for i in ids if i in by_id]

    def ids(self, query: str = "", filters: Filters | None = None, *, limit: int | None = None) -> list[int]:
        """Matching ids: ranked by relevance when there is a query, newest first otherwise."""
        where, args = (filters or Filters()).sql()
        match = fts_query(query) if query else None
        if query and match is None:
            return []
        lim = f" LIMIT {int(limit)}" if limit else ""
        if match and where == "1":  # no filter: rank inside the FTS index alone, no join
            sql = "SELECT rowid FROM scenario_fts WHERE scenario_fts MATCH ? ORDER BY bm25(scenario_fts, 3.0, 1.0, 2.0, 1.0, 1.0), rowid" + lim
            args = [match]
        elif match:
            sql = (
                "SELECT s.id FROM scenario_fts f JOIN scenarios s ON s.id = f.rowid"
                f" WHERE scenario_fts MATCH ? AND {where}"
                " ORDER BY bm25(scenario_fts, 3.0, 1.0, 2.0, 1.0, 1.0), s.id" + lim
            )
            args = [match, *args]
        else:
            sql = f"SELECT s.id FROM scenarios s WHERE {where} ORDER BY s.occurred_on DESC, s.id DESC" + lim
        return [r[0] for r in self.vault.conn.execute(sql, args)]

    def snippets(self, query: str, ids: list[int], *, marks: tuple[str, str] = ("«", "»")) -> dict[int, str]:
        """For search results: the words around the first match, matches between `marks` ({id: snippet}).

        The full-text index is contentless (the text is stored once, encrypted, in the tables), so snippets are
        cut here from the situation, the norms or an analysis, whichever matches first."""
        words = [w.casefold() for w in _WORD.findall(query)]
        if not words or not ids:
            return {}
        out = {}
        for s in self.get_many(ids):
            for text in (s.situation, s.context, *(p.analysis for p in s.perspectives)):
                cut = snippet(text, words, marks)
                if cut:
                    out[s.id] = cut
                    break
        return out

    def search(self, query: str, filters: Filters | None = None, *, limit: int = 50) -> list[Scenario]:
        return self.get_many(self.ids(query, filters, limit=limit))

    def count(self, filters: Filters | None = None) -> int:
        where, args = (filters or Filters()).sql()
        return self.vault.conn.execute(f"SELECT count(*) FROM scenarios s WHERE {where}", args).fetchone()[0]

    def iter_all(self, filters: Filters | None = None) -> Iterator[Scenario]:
        """Every scenario, oldest id first, fetched in batches."""
        where, args = (filters or Filters()).sql()
        all_ids = [r[0] for r in self.vault.conn.execute(f"SELECT s.id FROM scenarios s WHERE {where} ORDER BY s.id", args)]
        for start in range(0, len(all_ids), _BATCH):
            yield from self.get_many(all_ids[start : start + _BATCH])

    def distinct(self, column: str) -> list[str]:
        """Values present in the journal for a filter menu: industry, viewpoint or tag."""
        sql = {
            "industry": "SELECT DISTINCT industry FROM scenarios WHERE industry != '' ORDER BY industry COLLATE NOCASE",
            "viewpoint": "SELECT DISTINCT viewpoint FROM perspectives ORDER BY viewpoint COLLATE NOCASE",
            "tag": "SELECT DISTINCT j.value FROM scenarios s, json_each(s.tags) j ORDER BY 1 COLLATE NOCASE",
        }[column]
        return [r[0] for r in self.vault.conn.execute(sql)]


def _require_valid(scenario: Scenario, where: str) -> None:
    found = problems(scenario)
    if found:
        raise InvalidInputError(f"Cannot save {where}: " + "; ".join(found) + ".")


def snippet(text: str, words: list[str], marks: tuple[str, str] = ("«", "»"), *, around: int = 6) -> str:
    """The words of `text` around its first match of `words` (the last one a prefix, as in search), with every
    match marked; "" when nothing matches."""
    tokens = text.split()
    last = len(words) - 1

    def hit(token: str) -> bool:
        found = [w.casefold() for w in _WORD.findall(token)]
        return any(t == w or (i == last and t.startswith(w)) for t in found for i, w in enumerate(words))

    first = next((i for i, token in enumerate(tokens) if hit(token)), None)
    if first is None:
        return ""
    lo, hi = max(0, first - around), min(len(tokens), first + around + 1)
    shown = [f"{marks[0]}{t}{marks[1]}" if hit(t) else t for t in tokens[lo:hi]]
    return ("… " if lo else "") + " ".join(shown) + (" …" if hi < len(tokens) else "")
