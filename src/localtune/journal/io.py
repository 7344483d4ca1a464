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
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from ..errors import ImportFailed, InvalidInputError
from ..paths import Paths
from ..vault.files import check_destination, write_file
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
    _check_encodable(value, label)
    return value


def _check_encodable(value: str, label: str) -> None:
    """A lone surrogate ("\\ud800" in JSON) is valid JSON but not text: the journal could never store it."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"{label} holds an invalid character (U+{ord(value[exc.start]):04X}, half of a "
                         "surrogate pair)") from None


def _string_list(doc: dict, key: str) -> list[str]:
    value = doc.get(key)
    if value is None:
        return []
    if isinstance(value, str):
        _check_encodable(value, key)
        return _split_list(value)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{key} must be a list of text")
    for item in value:
        _check_encodable(item, key)
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
        except RecursionError:
            parsed.problems.append((number, "nested too deeply to be a scenario"))
    return parsed


def write_jsonl(scenarios: Iterable[Scenario], out: TextIO) -> int:
    count = 0
    for s in scenarios:
        # ensure_ascii keeps U+2028 and friends escaped, so a line is always one scenario
        out.write(json.dumps(scenario_to_dict(s), ensure_ascii=True) + "\n")
        count += 1
    return count


# -- CSV ---------------------------------------------------------------------------------------------------

# A field may be as long as the journal allows (no limit), so the csv module's default of 131 072 characters per
# field - which made a long entry export but never import again - is raised to what a C long holds everywhere.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


class _Lines:
    """The physical lines of a CSV text, as the csv module splits them (at \\r\\n, \\r or \\n only), with a
    position that can be moved back after a row that cannot be read."""

    def __init__(self, lines: list[str]):
        self.lines, self.pos = lines, 0

    def __iter__(self):
        return self

    def __next__(self) -> str:
        if self.pos >= len(self.lines):
            raise StopIteration
        self.pos += 1
        return self.lines[self.pos - 1]


def parse_csv(stream: TextIO) -> Parsed:
    """Every row as a scenario, or as a problem with the number of its first line.

    One bad row costs one row: when a row cannot be read (a stray quote, say), the problem names its first line
    and reading starts again at the next line, so a quote that is never closed cannot swallow the rows after it.
    A row spanning several lines whose field count is wrong is the same mistake seen later, and is read again
    from its second line.
    """
    parsed = Parsed()
    src = _Lines(list(stream))
    reader, header = None, None
    while src.pos < len(src.lines):
        start = src.pos
        reader = reader or csv.reader(src, strict=True)
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            if header is None:
                parsed.problems.append((start + 1, f"the header row cannot be read ({exc})"))
                return parsed
            parsed.problems.append((start + 1, f"the row cannot be read as CSV ({exc}); "
                                               "reading went on at the next line"))
            src.pos, reader = start + 1, None
            continue
        if not fields:  # a blank line
            continue
        if header is None:
            header = fields
            problem = _header_problem(header)
            if problem:
                parsed.problems.append((start + 1, problem))
                return parsed
            continue
        if len(fields) != len(header):
            more = "more" if len(fields) > len(header) else "fewer"
            parsed.problems.append((start + 1, f"the row has {more} fields than the header"))
            if src.pos > start + 1:  # a quote opened by mistake took in the lines after it: read them again
                src.pos, reader = start + 1, None
            continue
        try:
            parsed.scenarios.append(_scenario_from_row({k: unneutralise(v) for k, v in zip(header, fields, strict=True)}))
        except ValueError as exc:
            parsed.problems.append((start + 1, str(exc)))
    return parsed


def _header_problem(header: list[str]) -> str:
    if "situation" not in header:
        return "the header row has no 'situation' column"
    unknown = [c for c in header if c not in CSV_COLUMNS and not _numbered(c)]
    if unknown:
        return f"unknown column(s): {', '.join(unknown)}"
    if len(set(header)) != len(header):
        return "the header row names a column twice"
    return ""


# Spreadsheets run a cell that begins with = + - @ (or a tab or carriage return) as a formula. Export writes such
# a cell with a leading apostrophe, which spreadsheets show as text; import takes one apostrophe off again. A cell
# that already begins with apostrophes before such a character gets one more, so every text comes back exactly.
_FORMULA_START = "=+-@\t\r"


def neutralise(cell: str) -> str:
    rest = cell.lstrip("'")
    return "'" + cell if rest[:1] and rest[0] in _FORMULA_START else cell


def unneutralise(cell: str) -> str:
    rest = cell.lstrip("'")
    return cell[1:] if cell[:1] == "'" and rest[:1] and rest[0] in _FORMULA_START else cell


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
        writer.writerow({k: neutralise(v) for k, v in row.items()})
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
    except IsADirectoryError:
        raise InvalidInputError(f"{path} is a folder; give the file to read.") from None
    except OSError as exc:
        raise InvalidInputError(f"Could not read {path}: {exc.strerror or exc}.") from None
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"{Path(path).name} is not UTF-8 text (byte {exc.start}); save it as UTF-8 and try again.") from None
    return parse_text(text, fmt)


def is_export(fmt: str, head: bytes) -> bool:
    """Whether a file's first bytes are those of a localtune export in `fmt` (so it may replace it on request)."""
    if fmt == "csv":
        return head.startswith(b'"situation","context","industry"')
    return head == b"" or head.startswith(b'{"situation": "')


def export_file(path: str | os.PathLike, scenarios: Iterable[Scenario], *, paths: Paths | None = None,
                overwrite: bool = False) -> int:
    """Write a PLAINTEXT export readable only by the user (0600). Callers warn and confirm first.

    The destination is checked before anything is read (never the vault's folder, never anything but a new
    file or - with `overwrite` - an earlier export), and the file appears complete or not at all: on a full
    disk the unfinished plaintext is removed.
    """
    fmt = file_format(path)
    dest = check_destination(path, what="export", ours=lambda head: is_export(fmt, head), paths=paths,
                             overwrite=overwrite)
    buffer = io.StringIO(newline="")
    count = write_jsonl(scenarios, buffer) if fmt == "jsonl" else write_csv(scenarios, buffer)
    data = buffer.getvalue().encode("utf-8")
    del buffer
    write_file(dest, lambda out: out.write(data), paths=paths)
    return count
