import random
import re
import string
import unicodedata

from hypothesis import example, given, settings
from hypothesis import strategies as st

from localtune.dataset.redact import NameIndex, Redactor, name_key, placeholder, strip_placeholders
from localtune.journal.models import Perspective, Scenario


def test_people_titles_possessives_and_first_names_share_one_placeholder():
    r = Redactor(["Okafor"])
    text = "Maria Lopez asked Dr. Okafor about Maria's shift; Ms. Lopez and maria then emailed tom and TOM."
    assert r.redact(text, people=["Maria Lopez", "Tom"]) == (
        "[Person A] asked [Person B] about [Person A]'s shift; [Person A] and [Person A] then emailed "
        "[Person C] and [Person C]."
    )


def test_whole_words_only_and_contractions_are_not_names():
    r = Redactor(["Ann", "Don"])
    assert r.redact("Annette met Ann; Don't tell Don.") == "Annette met [Person A]; Don't tell [Person B]."


def test_a_name_part_that_is_a_common_word_matches_only_when_capitalised():
    r = Redactor()
    assert r.redact("I will ask Will. Will Smith agreed.", people=["Will Smith"]) == (
        "I will ask [Person A]. [Person A] agreed."
    )


def test_a_name_matches_the_other_ways_it_gets_typed_with_one_placeholder():
    r = Redactor(["O’Neil", "Anne-Marie Dupont"])
    text = ("O'Neil, ONeil and o’neil met Anne Marie, anne\u2011marie and Ms. Dupont; "
            "Jose Nunez, JOSÉ and Jose\u0301 (a combining accent) wrote to Núñez's team.")
    assert r.redact(text, people=["José Núñez"]) == (
        "[Person A], [Person A] and [Person A] met [Person B], [Person B] and [Person B]; "
        "[Person C], [Person C] and [Person C] (a combining accent) wrote to [Person C]'s team."
    )


def test_names_beyond_the_basic_latin_letters_still_match():
    r = Redactor(["Nguyễn Văn An", "Йосиф", "Sven Ørsted"])
    assert r.redact("Nguyen Van An told NGUYỄN and Йосиф (ЙОСИФ) that Orsted agreed.") == (
        "[Person A] told [Person A] and [Person B] ([Person B]) that [Person C] agreed."
    )


def test_emails_phones_and_urls_are_masked():
    r = Redactor()
    text = (
        "Write to maria.lopez@acme.com, call +44 20 7946 0958 or (555) 123-4567 or 555.123.4567, "
        "see https://intranet.acme.com/hr?id=7, www.acme.org or acme.io/rota."
    )
    assert r.redact(text) == (
        "Write to [email], call [phone] or [phone] or [phone], see [url], [url] or [url]."
    )


def test_dates_amounts_and_years_are_not_phone_numbers():
    text = "On 2025-03-14 the 120,000 budget for 2019 2020 and 1999-2001 (2 years) covered 1234567 units."
    assert Redactor().redact(text) == text


def test_a_name_inside_an_email_address_is_masked_as_the_address():
    assert Redactor(["Maria"]).redact("maria@acme.com and Maria") == "[email] and [Person A]"


def test_scenario_placeholders_are_consistent_across_situation_context_and_analyses():
    scenario = Scenario(
        id=1,
        situation="Tom Baker moved Aisha's shift.",
        context="Aisha had asked Tom for a swap.",
        people=["Tom Baker", "Aisha Khan"],
        perspectives=[
            Perspective("employee", "problematic", "Mr. Baker never asked Ms. Khan."),
            Perspective("manager", "reasonable", "Aisha Khan agreed by phone: 07700 900123."),
        ],
    )
    out = Redactor().redact_scenario(scenario)
    assert out.situation == "[Person A] moved [Person B]'s shift."
    assert out.context == "[Person B] had asked [Person A] for a swap."
    assert out.perspectives[0].analysis == "[Person A] never asked [Person B]."
    assert out.perspectives[1].analysis == "[Person B] agreed by phone: [phone]."
    assert out.people == ["[Person A]", "[Person B]"]
    assert scenario.situation == "Tom Baker moved Aisha's shift."  # the original is untouched


def test_placeholders_go_past_z():
    assert [placeholder(n) for n in (0, 25, 26, 27)] == ["[Person A]", "[Person Z]", "[Person AA]", "[Person AB]"]


def test_an_empty_or_blank_name_list_changes_nothing():
    assert Redactor(["", "  "]).redact("Nothing to hide here.", people=[" "]) == "Nothing to hide here."


def _fold(text: str) -> str:
    """No accents, one apostrophe, hyphens as spaces, lower case (the test's own, to check the redactor's)."""
    text = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
    return text.replace("’", "'").replace("-", " ").replace("\u2011", " ").casefold()


def _survives(name: str, text: str) -> bool:
    words = _fold(name).split()
    # A listed name as a whole word (a contraction such as "Don't" is not a mention of Don).
    pattern = r"(?<!\w)" + r"\s+".join(map(re.escape, words)) + r"(?!\w)(?!'(?:t|ll|re|ve|d|m)(?!\w))"
    return re.search(pattern, _fold(strip_placeholders(text))) is not None


def _spellings(name: str) -> list[str]:
    """How else a listed name gets typed: without accents, in capitals, decomposed, with other hyphens and
    apostrophes."""
    plain = "".join(c for c in unicodedata.normalize("NFD", name) if not unicodedata.combining(c))
    return [name, plain, name.upper(), unicodedata.normalize("NFD", name), name.replace("-", " "),
            name.replace("-", "\u2011"), name.replace("'", "’"), name.replace("’", "'")]


_part = st.text(alphabet=string.ascii_letters + "éüñçÅễ", min_size=2, max_size=6)
_word = st.one_of(_part, st.builds(lambda a, sep, b: a + sep + b, _part, st.sampled_from("-'’"), _part))
_name = st.lists(_word, min_size=1, max_size=2).map(" ".join)


@settings(max_examples=300, deadline=None)
@example(names=["AA"], people=[], pieces=["AA", "'T", "@0.0"])  # an address glued to a contraction
@example(names=["AA"], people=[], pieces=["AA", "'t", ".com"])  # a domain glued to one
@example(names=["AA"], people=[], pieces=["AA", "’t", "@x.com"])
@given(
    names=st.lists(_name, min_size=1, max_size=3),
    people=st.lists(_name, max_size=3),
    pieces=st.lists(st.one_of(st.text(max_size=30), _name, st.sampled_from(["'s", "'t", " ", "Dr. ", "madam ", "@x.com", "http://", ".com", "555-123-4567", "\n"])), max_size=12),
)
def test_redaction_never_crashes_and_never_leaves_a_listed_name(names, people, pieces):
    text = "".join(pieces) + " " + " ".join(spelling for name in names + people for spelling in _spellings(name))
    out = Redactor(names).redact(text, people=people)
    for name in names + people:
        assert not _survives(name, out), (name, out)


@settings(max_examples=200, deadline=None)
@given(
    names=st.lists(_name, min_size=1, max_size=4, unique_by=name_key),
    pieces=st.lists(st.one_of(st.text(max_size=20), _name, st.sampled_from(["'s", " ", "Dr. ", "-", "’"])), max_size=10),
)
def test_the_name_index_finds_exactly_the_names_the_redactor_would_replace(names, pieces):
    names = [n for n in names if len(name_key(n).replace(" ", "")) >= 2]
    raw = "".join(pieces) + " " + " ".join(random.Random(len(pieces)).choice(_spellings(n)) for n in names[:2])
    text = Redactor().redact(raw)  # as the readiness check sees it: contact details already masked
    expected = sorted(n for n in names if Redactor([n]).redact(text) != text)
    assert NameIndex(names).mentioned(text) == expected
