import re

from dataset_factory import make_journal

from localtune.dataset.examples import content_hash, preview, scenario_examples
from localtune.dataset.prompts import completion_text, prompt_messages
from localtune.dataset.redact import Redactor
from localtune.journal.models import Perspective, Scenario


def _scenario(**kw) -> Scenario:
    base = dict(
        id=7,
        situation="Maria Lopez was asked by Sam to stay late.",
        context="Overtime is agreed a day ahead.",
        industry="nursing",
        people=["Maria Lopez", "Sam"],
        perspectives=[
            Perspective("employee", "problematic", "Sam gave Maria no notice."),
            Perspective("charge nurse", "reasonable", "Maria had agreed to be on call."),
        ],
    )
    base.update(kw)
    return Scenario(**base)


def test_one_redacted_example_per_perspective():
    examples = scenario_examples(_scenario(), Redactor())
    assert len(examples) == 2
    first, second = examples
    assert first.messages == prompt_messages(
        situation="[Person A] was asked by [Person B] to stay late.",
        industry="nursing",
        context="Overtime is agreed a day ahead.",
        viewpoint="employee",
    )
    assert first.completion == completion_text("problematic", "[Person B] gave [Person A] no notice.")
    assert (first.label, first.viewpoint, first.industry, first.group) == ("problematic", "employee", "nursing", "7")
    assert second.completion == "Assessment: reasonable\n[Person A] had agreed to be on call."
    assert second.viewpoint == "charge nurse" and second.group == "7"


def test_excluded_scenarios_and_scenarios_without_perspectives_give_no_examples():
    assert scenario_examples(_scenario(use="exclude")) == []
    assert scenario_examples(_scenario(perspectives=[])) == []


def test_unsupported_labels_are_left_out_not_crashed_on():
    s = _scenario(perspectives=[Perspective("employee", "great", "x"), Perspective("hr", "mixed", "")])
    examples = scenario_examples(s)
    assert [(e.label, e.completion) for e in examples] == [("mixed", "Assessment: mixed")]


def test_group_of_an_unsaved_scenario_is_a_stable_content_hash():
    a, b = _scenario(id=None), _scenario(id=None, occurred_on="2025-01-01")
    assert scenario_examples(a)[0].group == scenario_examples(b)[0].group == content_hash(a)
    assert re.fullmatch(r"[0-9a-f]{16}", content_hash(a))
    assert content_hash(_scenario(id=None, situation="Something else.")) != content_hash(a)
    assert scenario_examples(_scenario(id=0))[0].group == "0"


def test_no_listed_person_survives_in_any_example():
    for scenario in make_journal(200, viewpoints=("employee", "HR")):
        first, last = scenario.people[0].split()
        scenario.perspectives[0].analysis = f"{first} later said {last}'s manager knew; {first.lower()} agreed."
        for example in scenario_examples(scenario, Redactor()):
            text = " ".join(m["content"] for m in example.messages) + " " + example.completion
            words = {w.casefold() for w in re.findall(r"\w+", text)}
            assert not words & {first.casefold(), last.casefold()}, text


def test_preview_shows_what_the_model_sees_redacted():
    text = preview([_scenario(), _scenario(id=8, use="exclude")], Redactor())
    assert "Maria" not in text and "Sam" not in text
    assert "Situation: [Person A] was asked by [Person B] to stay late." in text
    assert "scenario 7, perspective 2 (charge nurse)" in text
    assert "Assessment: reasonable" in text
    assert "scenario 8" not in text
    assert preview([_scenario()] * 3, limit=2).endswith("... and 4 more examples.")
    assert preview([]).startswith("No examples yet")
