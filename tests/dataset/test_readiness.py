import json
import subprocess
import sys
import time
from dataclasses import replace

import pytest
from dataset_factory import make_journal, make_scenario

from localtune.dataset.checks import cohen_kappa, readiness
from localtune.dataset.redact import Redactor
from localtune.errors import DatasetNotReady
from localtune.journal.models import Perspective


def codes(findings) -> list[str]:
    return [f.code for f in findings]


def test_49_examples_block_and_50_do_not():
    short = readiness(make_journal(49))
    assert codes(short.blocking) == ["too_few_examples"]
    assert "Add 1 more" in short.blocking[0].message and not short.ready
    with pytest.raises(DatasetNotReady, match="at least 50"):
        short.raise_if_not_ready()
    enough = readiness(make_journal(50))
    assert enough.ready and enough.blocking == []
    assert enough.example_count == 50 and enough.level == "minimum"
    assert "few_examples" in codes(enough.warnings)
    assert readiness(make_journal(100)).level == "preferred"
    assert readiness(make_journal(200)).level == "good"


def test_a_single_label_blocks():
    journal = [make_scenario(i, labels=("problematic",)) for i in range(1, 61)]
    report = readiness(journal)
    assert codes(report.blocking) == ["single_label"]
    assert "'problematic'" in report.blocking[0].message


def test_a_dominant_label_in_one_viewpoint_warns():
    labels = ["reasonable"] * 8 + ["problematic"] * 2  # 80% for HR, balanced for employee
    journal = [
        make_scenario(i, viewpoints=("employee", "HR"), labels=(["reasonable", "problematic"][i % 2], labels[i % 10]))
        for i in range(60)
    ]
    report = readiness(journal)
    imbalance = [f for f in report.warnings if f.code == "label_imbalance"]
    assert len(imbalance) == 1
    assert "HR viewpoint, 48 of 60 examples (80%) are 'reasonable'" in imbalance[0].message
    assert report.balance == {"employee": {"reasonable": 30, "problematic": 30}, "HR": {"reasonable": 48, "problematic": 12}}


def test_kappa_matches_the_hand_computed_value():
    # employee vs HR: 4 both reasonable, 3 both problematic, 2 reasonable/problematic, 1 problematic/reasonable.
    # p_o = 7/10; employee r=6 p=4, HR r=5 p=5: p_e = (6*5 + 4*5)/100 = 0.5; kappa = (0.7 - 0.5)/0.5 = 0.4
    pairs = [("reasonable", "reasonable")] * 4 + [("problematic", "problematic")] * 3
    pairs += [("reasonable", "problematic")] * 2 + [("problematic", "reasonable")]
    kappa, observed = cohen_kappa(pairs)
    assert kappa == pytest.approx(0.4) and observed == pytest.approx(0.7)
    journal = [make_scenario(i, viewpoints=("employee", "HR"), labels=pair) for i, pair in enumerate(pairs, 1)]
    journal += [make_scenario(i, viewpoints=("employee", "manager")) for i in range(11, 15)]  # only 4: no kappa
    (agreement,) = readiness(journal).agreement
    assert agreement.viewpoints == ("employee", "HR") and agreement.n == 10
    assert agreement.kappa == pytest.approx(0.4)


def test_kappa_is_undefined_when_both_always_say_the_same_thing():
    assert cohen_kappa([("mixed", "mixed")] * 5) == (None, 1.0)


def test_contradictions_are_found_on_near_identical_situations_with_one_viewpoint():
    journal = make_journal(60)
    twin = replace(
        journal[0], id=500, situation=journal[0].situation + " It happened again.",
        perspectives=[Perspective("employee", "problematic" if journal[0].perspectives[0].assessment == "reasonable" else "reasonable", "x")],
    )
    report = readiness([*journal, twin])
    contradiction = [f for f in report.warnings if f.code == "contradiction"]
    assert [f.scenario_ids for f in contradiction] == [[1, 500]]
    assert [1, 500] in report.near_duplicates
    # The same twin seen from another viewpoint is a near-duplicate, not a contradiction.
    other = replace(twin, perspectives=[Perspective("HR", twin.perspectives[0].assessment, "x")])
    report = readiness([*journal, other])
    assert "contradiction" not in codes(report.warnings) and [1, 500] in report.near_duplicates


def test_distinct_data_has_no_duplicates_or_contradictions():
    report = readiness(make_journal(150, viewpoints=("employee", "HR")))
    assert report.near_duplicates == []
    assert not {"near_duplicate", "contradiction"} & set(codes(report.warnings))


def test_one_scenario_with_opposite_assessments_from_one_viewpoint_is_a_contradiction():
    odd = make_scenario(99, viewpoints=("employee", "Employee"), labels=("reasonable", "problematic"))
    report = readiness([*make_journal(60), odd])
    assert [f.scenario_ids for f in report.warnings if f.code == "contradiction"] == [[99]]


def test_examples_over_the_sequence_limit_warn():
    journal = make_journal(60)
    journal[4].perspectives[0].analysis = "word " * 800
    report = readiness(journal, max_tokens=1024)
    (too_long,) = [f for f in report.warnings if f.code == "too_long"]
    assert too_long.scenario_ids == [5] and report.long_examples == 1
    report = readiness(journal, count_tokens=lambda text: len(text), max_tokens=500)
    assert report.long_examples == 60


def test_unsupported_labels_and_empty_analyses_are_warnings_not_crashes():
    journal = make_journal(60)
    journal[0].perspectives.append(Perspective("HR", "fine", "x"))
    journal[1].perspectives[0].analysis = "  "
    report = readiness(journal)
    assert report.ready
    found = {f.code: f.scenario_ids for f in report.warnings}
    assert found["unsupported_label"] == [1] and found["empty_analysis"] == [2]
    assert "1 perspective has an assessment other than" in report.render()


def test_everything_marked_eval_blocks():
    report = readiness([replace(s, use="eval") for s in make_journal(60)])
    assert codes(report.blocking) == ["nothing_to_train"]


def test_report_is_json_and_renders_for_a_person():
    journal = make_journal(70, viewpoints=("employee", "HR"))
    journal[2] = replace(journal[2], use="eval")
    report = readiness(journal, redactor=Redactor(["Okafor"]))
    data = json.loads(json.dumps(report.to_dict()))
    assert data["ready"] is True and data["example_count"] == 140
    assert data["split"]["marked_eval"] == 1
    assert data["split"]["train_examples"] + data["split"]["eval_examples"] == 140
    assert data["agreement"][0]["n"] == 70
    assert {"train", "eval"}.isdisjoint(data)  # no journal text in the JSON
    text = report.render()
    assert text.startswith("Ready to train: yes\nExamples: 140 from 70 scenarios (preferred;")
    assert "employee vs HR:" in text and "Held-out split:" in text
    assert len(report.train) == data["split"]["train_examples"]


def test_the_dataset_layer_imports_no_ml_or_gui_library():
    code = (
        "import sys, localtune.dataset, localtune.dataset.checks, localtune.dataset.split;"
        "print(sorted(m for m in ('torch', 'transformers', 'peft', 'bitsandbytes', 'PySide6') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.slow
def test_ten_thousand_scenarios_are_checked_in_seconds():
    journal = make_journal(10_000, viewpoints=("employee", "HR"))
    for n in range(0, 10_000, 500):  # a few planted copies
        journal.append(replace(journal[n], id=20_000 + n, situation=journal[n].situation + " Same again."))
    start = time.perf_counter()
    report = readiness(journal, redactor=Redactor(["Okafor", "Sam Lee"]))
    elapsed = time.perf_counter() - start
    assert report.example_count == 20_040
    planted = {(n + 1, 20_000 + n) for n in range(0, 10_000, 500)}
    found = {tuple(g) for g in report.near_duplicates if len(g) == 2}
    assert planted <= found
    print(f"readiness on {len(journal)} scenarios: {elapsed:.2f} s")
    assert elapsed < 30


def test_a_person_named_in_entries_that_do_not_list_them_is_reported_until_listed():
    journal = make_journal(60)
    journal[0] = replace(journal[0], people=["Priya Raman"], situation="Priya Raman moved my shift without asking.")
    journal[1] = replace(journal[1], people=[], situation="PRIYA asked me to cover again; Dr. Raman’s rota.")
    journal[2] = replace(journal[2], people=[], situation="The judge and Will agreed; I will not.")  # no one listed
    journal[3] = replace(journal[3], people=["Will Stone"], situation="Will Stone signed off.")
    report = readiness(journal)
    found = [f for f in report.warnings if f.code == "unlisted_name"]
    assert [(f.scenario_ids, f.message.split(" is among")[0]) for f in found] == [
        ([2], "'Priya Raman'"), ([3], "'Will Stone'")]
    assert "among the people of 1 scenario but is named, unlisted, in 1 other" in found[0].message
    # Listing her everywhere (or in that entry) ends the warning: the name no longer reaches the model.
    report = readiness(journal, redactor=Redactor(["Priya Raman", "Will Stone"]))
    assert "unlisted_name" not in codes(report.warnings)


def test_past_ten_unlisted_people_the_rest_share_one_finding():
    journal = make_journal(60)
    names = [f"Person{chr(65 + i)}ix Example" for i in range(12)]
    for i, name in enumerate(names):
        journal[i] = replace(journal[i], people=[name], situation=f"{name} changed the plan.")
        journal[30 + i] = replace(journal[30 + i], people=[], situation=f"{name.split()[0]} changed it again.")
    found = [f for f in readiness(journal).warnings if f.code == "unlisted_name"]
    assert len(found) == 11
    assert found[-1].message.startswith("2 more people are named in scenarios that do not list them: ")
    assert found[-1].scenario_ids == [41, 42]
