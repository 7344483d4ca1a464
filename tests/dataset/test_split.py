import math
from dataclasses import replace

from dataset_factory import make_journal, make_scenario

from localtune.dataset.split import split_dataset


def _sides(split) -> dict[str, str]:
    sides = {e.group: "train" for e in split.train}
    sides.update({e.group: "eval" for e in split.eval})
    return sides


def test_split_is_deterministic_and_independent_of_input_order():
    journal = make_journal(120)
    a, b = split_dataset(journal), split_dataset(list(reversed(journal)))
    assert _sides(a) == _sides(b)
    assert a.summary == split_dataset(journal).summary


def test_all_perspectives_of_a_scenario_stay_together():
    split = split_dataset(make_journal(80, viewpoints=("employee", "HR", "manager")))
    assert not {e.group for e in split.train} & {e.group for e in split.eval}
    assert len(split.train) + len(split.eval) == 240


def test_every_label_is_on_both_sides_at_about_the_held_out_share():
    split = split_dataset(make_journal(90))
    for label, sides in split.summary.per_label.items():
        total = sides["train"] + sides["eval"]
        assert 0.15 <= sides["eval"] / total <= 0.25, (label, sides)
    assert split.summary.missing == []


def test_scenarios_marked_eval_are_always_held_out_and_count_towards_the_share():
    journal = make_journal(100)
    marked = {3, 17, 42, 64, 99}
    journal = [replace(s, use="eval") if s.id in marked else s for s in journal]
    split = split_dataset(journal)
    sides = _sides(split)
    assert all(sides[str(i)] == "eval" for i in marked)
    assert split.summary.marked_eval == 5
    for label, sides in split.summary.per_label.items():
        total = sides["train"] + sides["eval"]
        assert math.ceil(0.15 * total) <= sides["eval"] <= 0.25 * total, (label, sides)


def test_a_user_who_marked_enough_gets_no_extra_held_out_scenarios():
    journal = [replace(s, use="eval") if s.id % 5 == 0 else s for s in make_journal(100)]
    split = split_dataset(journal)
    assert {e.group for e in split.eval} == {str(i) for i in range(5, 101, 5)}
    assert split.summary.by_hash == split.summary.topped_up == 0


def test_adding_a_scenario_does_not_move_the_others():
    journal = make_journal(300)
    before = _sides(split_dataset(journal))
    moved_total = 0
    for extra in range(301, 321):
        after = _sides(split_dataset([*journal, make_scenario(extra)]))
        moved = [g for g in before if after[g] != before[g]]
        # Only a label right at its quota can pull in (or let go of) one scenario.
        assert len(moved) <= 3, moved
        moved_total += len(moved)
    assert moved_total <= 4
    after = _sides(split_dataset([*journal, make_scenario(301)]))
    assert {g: after[g] for g in before} == before


def test_near_duplicates_never_straddle_the_split():
    journal = make_journal(100)
    copies = []
    for n, original in enumerate(journal[:30]):
        copies.append(replace(original, id=1000 + n, situation=original.situation + " It happened again."))
    # One copy is marked eval: its original must be held out with it.
    copies[0] = replace(copies[0], use="eval")
    split = split_dataset(journal + copies)
    sides = _sides(split)
    for n in range(30):
        assert sides[str(n + 1)] == sides[str(1000 + n)], n
    assert sides["1"] == sides["1000"] == "eval"
    assert split.summary.held_with_marked == 1
