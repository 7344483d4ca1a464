"""Import and export: JSONL (one scenario per line) and CSV (one scenario per row).

Parsing reports every bad row with its line number and the reason; the caller decides whether to import
nothing (the default) or only the good rows. Export -> import is lossless in both formats; a scenario with
more than one perspective uses numbered CSV columns (viewpoint_2, assessment_2, analysis_2, ...).
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from ..errors import ImportFailed, InvalidInputError
from .models import Perspective, Scenario, problems

CSV_COLUMNS = ["situation", "context", "industry", "occurred_on", "people", "tags", "use", "viewpoint", "assessment", "analysis"]
_SCENARIO_KEYS = {"situation", "context", "industry", "occurred_on", "people", "tags", "use", "perspectives"}
_PERSPECTIVE_KEYS = {"viewpoint", "assessment", "analysis"}


@dataclass
class Parsed:
    scenarios: list[Scenario] = field(default_factory=list)
    problems: list[tuple[int, str]] = field(default_factory=list)  # (line number, why)

    def require_clean(self, source: str) -> None:
        if self.problems:
            first = "; ".join(f"line {n}: {why}" for n, why in self.problems[:5])
            more = f" (and {len(self.problems) - 5} more)" if len(self.problems) > 5 else ""
            raise ImportFailed(
                f"{len(self.problems)} bad row(s) in {source}, so nothing was imported: {first}{more}. "
                "Fix them, or import only the good rows with --skip-invalid.",
                self.problems,
            )


def scenario_from_dict(doc) -> Scenario:
    """A scenario from one JSON object; raises ValueError saying what is wrong."""
    if not isinstance(doc, dict):
        raise ValueError("expected a JSON object")
    unknown = set(doc) - _SCENARIO_KEYS - {"id", "created_at", "updated_at"}
    if unknown:
        raise ValueError(f"unknown field(s): {', '.join(sorted(unknown))}")
    perspectives = []
    raw_perspectives = doc.get("perspectives") or []
    if not isinstance(raw_perspectives, list):
        raise ValueError("perspectives must be a list")
    for number, p in enumerate(raw_perspectives, 1):
        if not isinstance(p, dict) or set(p) - _PERSPECTIVE_KEYS:
            raise ValueError(f"perspective {number} must be an object with viewpoint, assessment, analysis")
        perspectives.append(
            Perspective(
                viewpoint=_text(p, "viewpoint", f"perspective {number} viewpoint"),
                assessment=_text(p, "assessment", f"perspective {number} assessment").strip().lower(),
                analysis=_text(p, "analysis", f"perspective {number} analysis"),
            )
        )
    scenario = Scenario(
        situation=_text(doc, "situation", "situation"),
        context=_text(doc, "context", "context"),
        industry=_text(doc, "industry", "industry").strip(),
        occurred_on=_text(doc, "occurred_on", "occurred_on").strip(),
        people=_string_list(doc, "people"),
        tags=_string_list(doc, "tags"),
        use=(_text(doc, "use", "use").strip().lower() or "train"),
        perspectives=perspectives,
        created_at=_text(doc, "created_at", "created_at"),
        updated_at=_text(doc, "updated_at", "updated_at"),
    )
    found = problems(scenario)
    if found:
        raise ValueError("; ".join(found))
    return scenario


def scenario_to_dict(s: Scenario) -> dict:
    return {
        "situation": s.situation,
        "context": s.context,
        "industry": s.industry,
        "occurred_on": s.occurred_on,
        "people": list(s.people),
        "tags": list(s.tags),
        "use": s.use,
        "perspectives": [{"viewpoint": p.viewpoint, "assessment": p.assessment, "analysis": p.analysis} for p in s.perspectives],
    }


def _text(doc: dict, key: str, label: str) -> str:
    value = doc.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{label} must be text")
    return value


def _string_list(doc: dict, key: str) -> list[str]:
    value = doc.get(key)
    if value is None:
        return []
    if isinstance(value, str):
        return _split_list(value)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{key} must be a list of text")
    return value


def _split_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(";") if part.strip()]


# -- JSONL -------------------------------------------------------------------------------------------------

def parse_jsonl(stream: Iterable[str]) -> Parsed:
    parsed = Parsed()
    for number, line in enumerate(stream, 1):
        if not line.strip():
            continue
        try:
            parsed.scenarios.append(scenario_from_dict(json.loads(line)))
        except json.JSONDecodeError as exc:
            parsed.problems.append((number, f"not valid JSON ({exc.msg})"))
        except ValueError as exc:
            parsed.problems.append((number, str(exc)))
    return parsed


def write_jsonl(scenarios: Iterable[Scenario], out: TextIO) -> int:
    count = 0
    for s in scenarios:
        # ensure_ascii keeps U+2028 and friends escaped, so a line is always one scenario
        out.write(json.dumps(scenario_to_dict(s), ensure_ascii=True) + "\n")
        count += 1
    return count


# -- CSV ---------------------------------------------------------------------------------------------------

def parse_csv(stream: TextIO) -> Parsed:
    parsed = Parsed()
    reader = csv.DictReader(stream, strict=True)
    try:
        header = reader.fieldnames or []
    except csv.Error as exc:
        parsed.problems.append((1, f"the header row cannot be read ({exc})"))
        return parsed
    if "situation" not in header:
        parsed.problems.append((1, "the header row has no 'situation' column"))
        return parsed
    unknown = [c for c in header if c not in CSV_COLUMNS and not _numbered(c)]
    if unknown:
        parsed.problems.append((1, f"unknown column(s): {', '.join(unknown)}"))
        return parsed
    start = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            parsed.problems.append((start, f"the row cannot be read as CSV ({exc})"))
            break
        try:
            if None in row:
                raise ValueError("the row has more fields than the header")
            if any(v is None for v in row.values()):
                raise ValueError("the row has fewer fields than the header")
            parsed.scenarios.append(_scenario_from_row(row))
        except ValueError as exc:
            parsed.problems.append((start, str(exc)))
        start = reader.line_num + 1
    return parsed


def _numbered(column: str) -> bool:
    name, _, number = column.rpartition("_")
    return name in _PERSPECTIVE_KEYS and number.isdigit() and int(number) >= 2


def _scenario_from_row(row: dict) -> Scenario:
    perspectives = []
    suffixes = [""] + sorted({c.rpartition("_")[2] for c in row if _numbered(c)}, key=int)
    for suffix in suffixes:
        names = [f"{k}_{suffix}" if suffix else k for k in ("viewpoint", "assessment", "analysis")]
        viewpoint, assessment, analysis = (row.get(name) or "" for name in names)
        if viewpoint or assessment or analysis:
            perspectives.append({"viewpoint": viewpoint, "assessment": assessment, "analysis": analysis})
    doc = {k: row[k] for k in ("situation", "context", "industry", "occurred_on", "use") if k in row}
    doc["people"] = row.get("people") or ""
    doc["tags"] = row.get("tags") or ""
    doc["perspectives"] = perspectives
    return scenario_from_dict(doc)


def write_csv(scenarios: Iterable[Scenario], out: TextIO) -> int:
    scenarios = list(scenarios)
    for s in scenarios:
        for value in [*s.people, *s.tags]:
            if ";" in value:
                raise InvalidInputError(f"Scenario {s.id}: {value!r} contains ';', which CSV uses to separate names; use JSONL.")
    extra = max((len(s.perspectives) for s in scenarios), default=1)
    columns = CSV_COLUMNS + [f"{k}_{n}" for n in range(2, extra + 1) for k in ("viewpoint", "assessment", "analysis")]
    # QUOTE_ALL: a lone "\r" in a field is otherwise written bare and splits the row on reading
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writeheader()
    for s in scenarios:
        row = {
            "situation": s.situation, "context": s.context, "industry": s.industry, "occurred_on": s.occurred_on,
            "people": "; ".join(s.people), "tags": "; ".join(s.tags), "use": s.use,
        }
        for n, p in enumerate(s.perspectives, 1):
            suffix = "" if n == 1 else f"_{n}"
            row |= {f"viewpoint{suffix}": p.viewpoint, f"assessment{suffix}": p.assessment, f"analysis{suffix}": p.analysis}
        writer.writerow(row)
    return len(scenarios)


# -- files -------------------------------------------------------------------------------------------------

def file_format(path: str | os.PathLike) -> str:
    suffix = Path(path).suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    raise InvalidInputError(f"{Path(path).name}: localtune reads .jsonl and .csv files.")


def parse_text(text: str, fmt: str) -> Parsed:
    # JSON Lines are separated by "\n" alone: str.splitlines() would also break inside a JSON string at U+2028,
    # U+0085 or \x0b, which other tools write raw (valid JSON), rejecting a good row and misnumbering the rest.
    return parse_jsonl(text.split("\n")) if fmt == "jsonl" else parse_csv(io.StringIO(text, newline=""))


def read_file(path: str | os.PathLike) -> Parsed:
    fmt = file_format(path)
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            text = f.read()
    except FileNotFoundError:
        raise InvalidInputError(f"There is no file at {path}.") from None
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"{Path(path).name} is not UTF-8 text (byte {exc.start}); save it as UTF-8 and try again.") from None
    return parse_text(text, fmt)


def export_file(path: str | os.PathLike, scenarios: Iterable[Scenario]) -> int:
    """Write a PLAINTEXT export readable only by the user (0600). Callers warn and confirm first."""
    fmt = file_format(path)
    buffer = io.StringIO(newline="")
    count = write_jsonl(scenarios, buffer) if fmt == "jsonl" else write_csv(scenarios, buffer)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
        if hasattr(os, "fchmod"):
            os.fchmod(f.fileno(), 0o600)  # an existing file keeps its old mode otherwise
        f.write(buffer.getvalue())
    return count
