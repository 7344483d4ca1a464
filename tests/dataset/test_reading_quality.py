"""The repetition detector names degenerate readings and leaves ordinary ones alone."""

import pytest

from localtune.dataset import reading_quality as rq

LOOP = "Assessment mixed. " + "The plan was to take on a new team, and the plan was to take on a new team. " * 11
NORMAL = (
    "Announcing a new support queue at an all-hands without extra people or moved deadlines leaves the team to "
    "absorb the cost alone. In software teams, scope changes of this size are normally negotiated with the "
    "people doing the work, and the director could at least have asked which deadlines should move. The "
    "decision itself may be sound for the company, but the way it was made is the problem."
)
RESTATED = ("The decision is a mix of both reasonable and problematic. " * 2 + "It is hard to tell. ") * 3


def test_a_looping_reading_is_named_in_words():
    message = rq.repetition(LOOP)
    assert message and message.startswith("This model is repeating itself")
    assert "the plan was to" in message and "times" in message
    assert rq.repetition(RESTATED)


def test_an_ordinary_reading_passes():
    assert rq.repetition(NORMAL) is None
    assert rq.repetition("Fine.") is None and rq.repetition("") is None


def test_distinct_pairs_fall_when_text_loops():
    assert rq.distinct_n(NORMAL, 2) > 0.9
    assert rq.distinct_n(LOOP, 2) < 0.2
    assert rq.distinct_n("", 2) == 1.0


def test_low_variety_without_one_repeated_phrase_is_caught_too():
    words = ["alpha", "beta", "gamma", "delta"]
    text = " ".join(words[i % 4] + " " + words[(i * 3) % 4] for i in range(30))
    assert rq.most_repeated(text)[1] >= 3 or rq.distinct_n(text, 2) < rq.MIN_DISTINCT_2
    assert rq.repetition(text)


def test_the_stated_assessment_is_one_label_or_none():
    assert rq.stated_assessment("This conduct was clearly problematic for the team.") == "problematic"
    assert rq.stated_assessment("A mix of both reasonable and problematic.") is None
    assert rq.stated_assessment("Nothing to say.") is None


@pytest.mark.parametrize("text, judged", [
    ("This is problematic: she skipped the second check.", "problematic"),
    ("Moving the shift at two days' notice was not reasonable under the rota rules.", "problematic"),
    ("It isn't fair to the rest of the team, and it breaches the handover policy.", "problematic"),
    ("The lead was within her rights to move the stand-up, and it was fair to everyone.", "reasonable"),
    ("Asking for tests before merging is not wrong; it is what the field expects.", "reasonable"),
    ("On one hand the chef apologised, but also he shouted during service.", "mixed"),
    ("The manager asked for the report on Monday.", None),  # judges nothing
])
def test_the_text_is_read_for_its_judgement_not_only_its_label_line(text, judged):
    assert rq.judged_assessment(text) == judged


def test_disagreement_names_prose_that_contradicts_the_badge():
    assert "problematic" in rq.disagreement("Honestly this is not reasonable at all.", "reasonable")
    assert rq.disagreement("Honestly this is not reasonable at all.", "problematic") is None
    assert rq.disagreement("The manager asked for the report on Monday.", "reasonable") is None


def test_measures_of_a_set_of_readings():
    loop = "the plan was to take on a new team and " * 4
    readings = [rq.Reading(loop, "unclear", "reasonable", False, "the plan was fair"),
                rq.Reading("It was fair to ask for tests first.", "reasonable", "reasonable", True,
                           "It was fair to ask for tests."),
                rq.Reading("This breached the rota rules.", "unclear", "reasonable", True, "A breach.")]
    m = rq.measures(readings)
    assert m["n"] == 3 and m["looping"] == pytest.approx(1 / 3) and m["ended"] == pytest.approx(2 / 3)
    assert m["agreement"] == pytest.approx(1 / 2)  # the second agrees; the third's prose judges "problematic"
    assert 0 < m["token_f1"] < 1 and m["distinct_2"] < 1
    assert rq.token_f1("a b c", "a b c") == 1 and rq.token_f1("a", "b") == 0
