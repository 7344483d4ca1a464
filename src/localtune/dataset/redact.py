"""Redaction before training: people become role placeholders, contact details are masked.

A fine-tuned adapter can memorise rare strings from its training data, so names, e-mail addresses, phone
numbers and URLs never reach the model. Within one scenario each person keeps the same placeholder
("[Person A]", "[Person B]", ... in order of first appearance) across the situation, the context and every
analysis, so the text still says who did what to whom.

A listed name also matches the spellings people type for it: with or without accents ("José" and "Jose"),
with any apostrophe or none ("O'Neil", "O’Neil", "ONeil") and with a hyphen or a space between its parts ("Anne-Marie",
"Anne Marie", "Jean‑Luc" with a non-breaking hyphen).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import lru_cache

from ..errors import InvalidInputError
from ..journal.models import Scenario

# Words before a name that are not part of it: "Judge Amadi" is Amadi, and "the judge" alone is nobody.
TITLES = (
    "dr", "mr", "mrs", "ms", "mx", "miss", "prof", "professor", "sir", "dame", "madam", "judge", "chef", "coach",
    "captain", "capt", "officer", "sergeant", "sgt", "detective", "nurse", "sister", "father", "pastor", "rev",
    "reverend", "rabbi", "imam", "chief", "principal", "president", "mayor", "senator", "councillor",
)

# Name parts that are also everyday English words: a first- or last-name-only mention of "Will Smith"
# must not turn "I will ask" into "I [Person A] ask", so these parts only match when capitalised.
_COMMON_WORDS = frozenset(
    """
    will may mark bill frank grace hope joy rose june april august pat sue don art jack guy faith
    dean chase rich drew gene ray sky summer dawn iris lily ivy amber ruby hunter king miles price
    long young white black brown green gray grey baker cook hall wood stone park lee page love day
    bell ford lane hill field major rob sunny penny holly heather crystal sandy dusty rusty chip bob
    harry carol nick sterling bishop case little moore best cash earl duke reed ash hart fox wolf
    bush more gold silver read reading dev
    """.split()  # noqa: SIM905
)

# A title right before a name goes with it ("Dr. Okafor" -> "[Person A]"). It is looked for behind each match,
# not scanned for at every position: three dozen alternatives there would make redaction four times slower.
_TITLE_BEFORE = re.compile(r"(?<!\w)(?:" + "|".join(TITLES) + r")\.?\s+\Z", re.IGNORECASE)
_APOSTROPHES = "'’‘ʼ"
_HYPHENS = "-‐‑‒–—"
# Patterns run on plain text (see _plain), where every apostrophe is ' and every hyphen is -.
# Between the parts of a name: spaces, or a hyphen ("Mary Ann", "Mary-Ann", "Mary‑Ann").
_GAP = r"(?:\s*-\s*|\s+)"
# A name ends where a word does; "Maria's" and "Chris'" still match, "Don't" and "Will'll" do not.
_CONTRACTION = r"'(?:t|ll|re|ve|d|m)(?!\w)"
_END = r"(?!\w)(?!" + _CONTRACTION + ")"
_START = r"(?<!\w)"

# Apostrophes belong to addresses ("o'brien@example.com") and never start a domain: without them an address
# glued to a contraction ("Don't@x.org", "won't.com") would be masked from mid-word, leaving a name before it.
_EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
_TLDS = r"(?:com|org|net|edu|gov|io|co|uk|de|fr|nl|eu|info|biz|dev|app|ai|me|us|ca|au)"
_URL = re.compile(
    r"(?<!\w)(?:https?://|ftp://|www\.)[^\s<>\"'()\[\]]+"
    r"|(?<![\w@.'-])(?:[\w-]+\.)+" + _TLDS + r"(?:/[^\s<>\"'()\[\]]*)?(?![\w-])",
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


# Latin letters without a decomposition that people still write plainly ("Øster" as "Oster").
_UNDECOMPOSED = {"ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D"}


@lru_cache(maxsize=1)
def _spelling_table() -> dict[int, str]:
    """For str.translate: a Latin letter with accents -> the letter without (same case), any apostrophe -> ',
    any hyphen -> -. One character for one, so a match in the translated text is a match at the same place in
    the original."""
    table = {ord(c): "'" for c in _APOSTROPHES[1:]} | {ord(c): "-" for c in _HYPHENS[1:]}
    for ch in map(chr, [*range(0xC0, 0x250), *range(0x1E00, 0x1F00)]):  # Latin-1, Extended-A/B, Additional
        base = _UNDECOMPOSED.get(ch) or unicodedata.normalize("NFD", ch)[0]
        if base != ch and base.isascii() and base.isalpha():
            table[ord(ch)] = base
    return table


def _plain(text: str) -> str:
    """What name patterns are matched against: the text (NFC) with plain letters, apostrophes and hyphens."""
    return text if text.isascii() else text.translate(_spelling_table())


def _nfc(text: str) -> str:
    return text if text.isascii() else unicodedata.normalize("NFC", text)


_WORD = re.compile(r"\w+")


def _fold(text: str) -> str:
    """Text as names are compared: plain (see _plain), no apostrophes, hyphens as spaces, lower case."""
    return _plain(_nfc(text)).replace("'", "").replace("-", " ").casefold()


def name_key(text: str) -> str:
    """One name however it is written: folded (see _fold), single spaces, no title. Two spellings of a name
    share a key; mentions with one key get one placeholder."""
    words = _fold(text).split()
    while len(words) > 1 and words[0].rstrip(".") in TITLES:
        words = words[1:]
    return " ".join(words)


def _words(name: str) -> list[str]:
    words = _plain(_nfc(name)).split()
    while len(words) > 1 and words[0].casefold().rstrip(".") in TITLES:
        words = words[1:]
    return words


def _char_pattern(ch: str) -> str:
    """One character of a plain name: an apostrophe may be left out, a hyphen may be a space."""
    if ch == "'":
        return "'?"
    if ch == "-":
        return _GAP
    return re.escape(ch)


def _word_pattern(word: str) -> str:
    return "".join(map(_char_pattern, word))


def _full_pattern(words: list[str]) -> str:
    return _GAP.join(_word_pattern(w) for w in words)


def _part_pattern(word: str) -> str:
    if name_key(word) in _COMMON_WORDS:
        return "(?-i:" + re.escape(word[0].upper()) + ")" + _word_pattern(word[1:])
    return _word_pattern(word)


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
        person = name_key(" ".join(words))
        owner[person] = person
        # A one-word name that is also a word ("Will", "Dev") matches only capitalised, like a part.
        fulls[person] = _full_pattern(words) if len(words) > 1 else _part_pattern(words[0])
    for name in names:
        words = _words(name)
        if len(words) < 2:
            continue
        person = owner.get(name_key(" ".join(words)))
        for word in (words[0], words[-1]):
            key = name_key(word)
            # An ambiguous part ("Maria" of two Marias) belongs to whoever is listed first.
            if _is_part(word) and key not in owner:
                owner[key] = person
                parts[key] = _part_pattern(word)
    if not owner:
        return _NameTable(None, {})
    # Longest first, so "Maria Lopez" wins over "Maria" at the same position.
    alternatives = sorted(list(fulls.values()) + list(parts.values()), key=len, reverse=True)
    pattern = re.compile(_START + "(?:" + "|".join(alternatives) + ")" + _END, re.IGNORECASE)
    return _NameTable(pattern, owner)


def forget_names() -> None:
    """Drop the cached name tables (on lock: they hold the people named in the journal)."""
    _name_table.cache_clear()


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
        elif isinstance(what, _NameTable) and (title := _TITLE_BEFORE.search(text, max(0, start - 20), start)):
            start = title.start()
        return start, end, what
    return None


@dataclass
class ScenarioRedaction:
    """Redacts the texts of one scenario with one mapping, so each person keeps one placeholder."""

    people: _NameTable
    names: _NameTable
    assigned: dict[str, str] = field(default_factory=dict)  # person key -> placeholder

    def _placeholder(self, table: _NameTable, mention: str) -> str:
        key = name_key(mention)
        person = table.owner.get(key, key)
        if person not in self.assigned:
            self.assigned[person] = placeholder(len(self.assigned))
        return self.assigned[person]

    def redact(self, text: str) -> str:
        if not text:
            return text
        text = _nfc(text)  # "José" typed as "Jose" + a combining accent is one name
        plain = _plain(text)  # what the patterns search; its positions are the text's
        # Each regex runs only where the text could hold its kind.
        sources: list[tuple[re.Pattern, object]] = [(_PHONE, "[phone]")]
        if "@" in plain:
            sources.insert(0, (_EMAIL, "[email]"))
        if _URL_HINT.search(plain):
            sources.insert(0, (_URL, "[url]"))
        sources += [(t.pattern, t) for t in (self.people, self.names) if t.pattern is not None]
        upcoming = [_next(p, what, plain, 0) for p, what in sources]
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
                    upcoming[j] = _next(sources[j][0], sources[j][1], plain, pos)
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
        people = [r.assigned.get(name_key(" ".join(_words(p))), "[Person]") for p in scenario.people]
        return replace(
            scenario,
            situation=situation,
            context=context,
            industry=industry,
            perspectives=perspectives,
            people=people,
        )


def _too_short(key: str) -> bool:
    return len(key.replace(" ", "").rstrip(".")) < 2


class NameIndex:
    """Which of many names a text mentions, by the redactor's own rules. A word index narrows thousands of
    names down to the few whose first or last word occurs before any pattern runs."""

    def __init__(self, names: Iterable[str]):
        self._by_word: dict[str, dict[str, str]] = {}  # word -> name key -> the name as first written
        for name in names:
            key = name_key(name)
            if _too_short(key):
                continue
            name = " ".join(str(name).split())
            parts, plain = key.split(), _words(name)
            # "O'Brien" is found by "obrien" (written without the apostrophe) and by "brien" (with it).
            words = {parts[0], parts[-1], *_WORD.findall(plain[0].casefold()), *_WORD.findall(plain[-1].casefold())}
            for word in words:
                if len(word) >= 2:
                    self._by_word.setdefault(word, {}).setdefault(key, name)

    def mentioned(self, text: str) -> list[str]:
        """The names `text` mentions, in any spelling the redactor would catch (first spellings, sorted)."""
        found = {}
        plain = _plain(_nfc(text))
        for word in set(_WORD.findall(plain.casefold())) & self._by_word.keys():
            for key, name in self._by_word[word].items():
                if key not in found and _name_table((name,)).pattern.search(plain):
                    found[key] = name
        return sorted(found.values())


def unique_names(names: Iterable[str]) -> list[str]:
    """A list of names to keep: trimmed, single-spaced, no blanks, each name once (its first spelling).

    Raises InvalidInputError for a name of one letter: it would replace that letter everywhere ("A", "I").
    """
    out, seen = [], set()
    for raw in names:
        name = " ".join(str(raw).split())
        key = name_key(name)
        if not key:
            continue
        if _too_short(key):
            raise InvalidInputError(f"{name!r} is too short to redact: it would replace every {name!r} in your "
                                    "notes. List the person's full name instead.")
        if key not in seen:
            seen.add(key)
            out.append(name)
    return out


def strip_placeholders(text: str) -> str:
    """The text without placeholders (for checks that no name is left)."""
    return _PLACEHOLDER.sub(" ", text)


__all__ = ["NameIndex", "Redactor", "ScenarioRedaction", "name_key", "placeholder", "strip_placeholders", "unique_names"]
