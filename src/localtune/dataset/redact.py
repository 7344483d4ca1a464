"""Redaction before training: people become role placeholders, contact details are masked.

A fine-tuned adapter can memorise rare strings from its training data, so names, e-mail addresses, phone
numbers and URLs never reach the model. Within one scenario each person keeps the same placeholder
("[Person A]", "[Person B]", ... in order of first appearance) across the situation, the context and every
analysis, so the text still says who did what to whom.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import lru_cache

from ..journal.models import Scenario

TITLES = ("dr", "mr", "mrs", "ms", "mx", "miss", "prof", "professor", "sir", "dame", "madam")

# Name parts that are also everyday English words: a first- or last-name-only mention of "Will Smith"
# must not turn "I will ask" into "I [Person A] ask", so these parts only match when capitalised.
_COMMON_WORDS = frozenset(
    """
    will may mark bill frank grace hope joy rose june april august pat sue don art jack guy faith
    dean chase rich drew gene ray sky summer dawn iris lily ivy amber ruby hunter king miles price
    long young white black brown green gray grey baker cook hall wood stone park lee page love day
    bell ford lane hill field major rob sunny penny holly heather crystal sandy dusty rusty chip bob
    harry carol nick sterling bishop case little moore best cash earl duke reed ash hart fox wolf
    bush more gold silver read reading
    """.split()  # noqa: SIM905
)

_TITLE = r"(?:(?:" + "|".join(TITLES) + r")\.?\s+)?"
# A name ends where a word does; "Maria's" and "Chris'" still match, "Don't" and "Will'll" do not.
_CONTRACTION = r"['’](?:t|ll|re|ve|d|m)(?!\w)"
_END = r"(?!\w)(?!" + _CONTRACTION + ")"
_START = r"(?<!\w)"

# Apostrophes belong to addresses ("o'brien@example.com") and never start a domain: without them an address
# glued to a contraction ("Don't@x.org", "won't.com") would be masked from mid-word, leaving a name before it.
_EMAIL = re.compile(r"[\w.+'’-]+@[\w-]+(?:\.[\w-]+)+")
_TLDS = r"(?:com|org|net|edu|gov|io|co|uk|de|fr|nl|eu|info|biz|dev|app|ai|me|us|ca|au)"
_URL = re.compile(
    r"(?<!\w)(?:https?://|ftp://|www\.)[^\s<>\"'()\[\]]+"
    r"|(?<![\w@.'’-])(?:[\w-]+\.)+" + _TLDS + r"(?:/[^\s<>\"'()\[\]]*)?(?![\w-])",
    re.IGNORECASE,
)
_URL_HINT = re.compile(r"://|www\.|\." + _TLDS + r"\b", re.IGNORECASE)
# A run of digits and separators; whether it is a phone number is decided in code (a charset first keeps
# the scan fast).
_PHONE = re.compile(r"[+(\d](?<![\w+(][+(\d])[\d ().-]{5,18}\d(?!\w)")
_TRAILING_PUNCT = ".,;:!?'\""
_DATE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|\d{4}\s*-\s*\d{4}|\d{4} \d{4}")
_PLACEHOLDER = re.compile(r"\[(?:Person [A-Z]+|email|phone|url)\]")


def _letters(n: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA: placeholders never run out."""
    out = ""
    n += 1
    while n:
        n, rest = divmod(n - 1, 26)
        out = chr(65 + rest) + out
    return out


def placeholder(n: int) -> str:
    return f"[Person {_letters(n)}]"


def _key(text: str) -> str:
    """How a mention is looked up: lower case, single spaces, no title, no possessive."""
    words = text.casefold().replace("’", "'").split()
    while len(words) > 1 and words[0].rstrip(".") in TITLES:
        words = words[1:]
    return " ".join(words)


def _words(name: str) -> list[str]:
    words = name.split()
    while len(words) > 1 and words[0].casefold().rstrip(".") in TITLES:
        words = words[1:]
    return words


def _full_pattern(words: list[str]) -> str:
    return r"\s+".join(re.escape(w) for w in words)


def _part_pattern(word: str) -> str:
    if word.casefold() in _COMMON_WORDS:
        return "(?-i:" + re.escape(word[0].upper()) + ")" + re.escape(word[1:])
    return re.escape(word)


def _is_part(word: str) -> bool:
    """First or last names worth matching alone: not initials ("J."), not single letters."""
    return len(word.rstrip(".")) >= 2 and not word.endswith(".")


@dataclass(frozen=True)
class _NameTable:
    """One compiled pattern for a list of names and where each mention leads (a person's canonical key)."""

    pattern: re.Pattern | None
    owner: dict[str, str]  # mention key -> person key


@lru_cache(maxsize=2048)
def _name_table(names: tuple[str, ...]) -> _NameTable:
    owner: dict[str, str] = {}
    fulls: dict[str, str] = {}
    parts: dict[str, str] = {}
    for name in names:
        words = _words(name)
        if not words:
            continue
        person = _key(" ".join(words))
        owner[person] = person
        fulls[person] = _full_pattern(words)
    for name in names:
        words = _words(name)
        if len(words) < 2:
            continue
        person = owner.get(_key(" ".join(words)))
        for word in (words[0], words[-1]):
            key = _key(word)
            # An ambiguous part ("Maria" of two Marias) belongs to whoever is listed first.
            if _is_part(word) and key not in owner:
                owner[key] = person
                parts[key] = _part_pattern(word)
    if not owner:
        return _NameTable(None, {})
    # Longest first, so "Maria Lopez" wins over "Maria" at the same position.
    alternatives = sorted(list(fulls.values()) + list(parts.values()), key=len, reverse=True)
    pattern = re.compile(_START + _TITLE + "(?:" + "|".join(alternatives) + ")" + _END, re.IGNORECASE)
    return _NameTable(pattern, owner)


def _is_phone(candidate: str) -> bool:
    digits = sum(c.isdigit() for c in candidate)
    compact = candidate.isdigit()
    return (
        7 <= digits <= 15
        and not (compact and digits < 10)  # an amount or a count, not a number to call
        and candidate.count("(") == candidate.count(")")
        and not _DATE.fullmatch(candidate)
    )


def _next(pattern: re.Pattern, what, text: str, pos: int) -> tuple[int, int, object] | None:
    """The next span of one kind at or after pos (phone-like runs that are not phone numbers skipped)."""
    while (m := pattern.search(text, pos)) is not None:
        start, end = m.span()
        if pattern is _PHONE and not _is_phone(m.group()):
            pos = end
            continue
        if pattern is _URL:
            while end > start and text[end - 1] in _TRAILING_PUNCT:
                end -= 1
        return start, end, what
    return None


@dataclass
class ScenarioRedaction:
    """Redacts the texts of one scenario with one mapping, so each person keeps one placeholder."""

    people: _NameTable
    names: _NameTable
    assigned: dict[str, str] = field(default_factory=dict)  # person key -> placeholder

    def _placeholder(self, table: _NameTable, mention: str) -> str:
        key = _key(mention)
        person = table.owner.get(key, key)
        if person not in self.assigned:
            self.assigned[person] = placeholder(len(self.assigned))
        return self.assigned[person]

    def redact(self, text: str) -> str:
        if not text:
            return text
        # Each regex runs only where the text could hold its kind.
        sources: list[tuple[re.Pattern, object]] = [(_PHONE, "[phone]")]
        if "@" in text:
            sources.insert(0, (_EMAIL, "[email]"))
        if _URL_HINT.search(text):
            sources.insert(0, (_URL, "[url]"))
        sources += [(t.pattern, t) for t in (self.people, self.names) if t.pattern is not None]
        upcoming = [_next(p, what, text, 0) for p, what in sources]
        out, pos = [], 0
        while any(upcoming):
            # Earliest first, then longest: an e-mail address holding a name is masked whole.
            k = min((k for k, m in enumerate(upcoming) if m), key=lambda k: (upcoming[k][0], -upcoming[k][1], k))
            start, end, what = upcoming[k]
            out.append(text[pos:start])
            out.append(what if isinstance(what, str) else self._placeholder(what, text[start:end]))
            pos = end
            # A kind whose next span was swallowed looks again from here, so "Dr. Okafor Ann" still finds Ann.
            for j, m in enumerate(upcoming):
                if m and m[0] < pos:
                    upcoming[j] = _next(sources[j][0], sources[j][1], text, pos)
        out.append(text[pos:])
        return "".join(out)


class Redactor:
    """Replaces people with role placeholders and masks e-mail addresses, phone numbers and URLs.

    `names` is the user-wide list (colleagues who may turn up in any entry); each scenario adds its own
    `people`. Both kinds become "[Person A]", "[Person B]", ... per scenario.
    """

    def __init__(self, names: Iterable[str] = ()):
        self.names = tuple(n for n in (str(x).strip() for x in names) if n)
        self._names = _name_table(self.names)

    def for_scenario(self, people: Iterable[str] = ()) -> ScenarioRedaction:
        """A redaction with one mapping for all the texts of one scenario (one compiled pattern)."""
        listed = tuple(p for p in (str(x).strip() for x in people) if p)
        return ScenarioRedaction(_name_table(listed), self._names)

    def redact(self, text: str, people: Iterable[str] = ()) -> str:
        """One text on its own (placeholders start at A)."""
        return self.for_scenario(people).redact(text)

    def redact_scenario(self, scenario: Scenario) -> Scenario:
        """A copy of the scenario with every text redacted: situation, context, industry, then each
        perspective's viewpoint and analysis, in that order of first appearance."""
        r = self.for_scenario(scenario.people)
        situation = r.redact(scenario.situation)
        context = r.redact(scenario.context)
        industry = r.redact(scenario.industry)
        perspectives = [
            replace(p, viewpoint=r.redact(p.viewpoint), analysis=r.redact(p.analysis))
            for p in scenario.perspectives
        ]
        people = [r.assigned.get(_key(" ".join(_words(p))), "[Person]") for p in scenario.people]
        return replace(
            scenario,
            situation=situation,
            context=context,
            industry=industry,
            perspectives=perspectives,
            people=people,
        )


def strip_placeholders(text: str) -> str:
    """The text without placeholders (for checks that no name is left)."""
    return _PLACEHOLDER.sub(" ", text)


__all__ = ["Redactor", "ScenarioRedaction", "placeholder", "strip_placeholders"]
