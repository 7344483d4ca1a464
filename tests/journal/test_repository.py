import pytest

from localtune.errors import InvalidInputError, NotFoundError
from localtune.journal import Perspective, Scenario
from localtune.journal.repository import Filters, fts_query


def _scenario(situation, industry="Software engineering", assessment="problematic", viewpoint="employee", **kw):
    return Scenario(situation=situation, industry=industry,
                    perspectives=[Perspective(viewpoint, assessment, kw.pop("analysis", "analysis text"))], **kw)


def test_add_get_update_delete_and_undo(journal):
    s = _scenario("The deadline moved twice.", people=["Maria"], tags=["deadlines"], occurred_on="2025-02-03")
    s.perspectives.append(Perspective("manager", "reasonable", "Scope changed."))
    new_id = journal.add(s)
    got = journal.get(new_id)
    assert got.situation == "The deadline moved twice." and got.people == ["Maria"] and got.tags == ["deadlines"]
    assert [(p.viewpoint, p.assessment) for p in got.perspectives] == [("employee", "problematic"), ("manager", "reasonable")]
    got.situation = "The deadline moved three times."
    got.perspectives = got.perspectives[:1]
    journal.update(got)
    again = journal.get(new_id)
    assert again.situation == "The deadline moved three times." and len(again.perspectives) == 1
    assert again.updated_at >= again.created_at
    assert journal.ids("three") == [new_id] and journal.ids("twice") == []
    deleted = journal.delete(new_id)
    with pytest.raises(NotFoundError):
        journal.get(new_id)
    assert journal.ids("three") == []
    journal.add(deleted)  # undo
    assert journal.get(new_id).situation == "The deadline moved three times."
    assert journal.ids("three") == [new_id]


def test_delete_many_is_all_or_nothing_and_undoable(journal):
    ids = [journal.add(_scenario(f"Rota change number {n} without notice.")) for n in range(4)]
    with pytest.raises(NotFoundError, match="nothing was deleted"):
        journal.delete_many([ids[0], 999_999])
    assert journal.count() == 4
    gone = journal.delete_many([ids[2], ids[0]])
    assert [s.id for s in gone] == [ids[2], ids[0]] and journal.count() == 2
    assert journal.ids("notice") == [ids[1], ids[3]]
    for scenario in gone:  # undo
        journal.add(scenario)
    assert sorted(journal.ids("notice")) == ids


def test_invalid_scenarios_are_refused_whole(journal):
    with pytest.raises(InvalidInputError, match="assessment"):
        journal.add_many([_scenario("fine"), _scenario("bad", assessment="awful")])
    assert journal.count() == 0
    with pytest.raises(InvalidInputError, match="situation is empty"):
        journal.add(Scenario(situation="  "))


def test_search_is_ranked_and_prefix_matches(journal):
    ids = journal.add_many([
        _scenario("Lunch was late."),
        _scenario("A deadline, another deadline, the deadline again: deadlines everywhere."),
        _scenario("The deadline slipped once.", analysis="nothing special"),
    ])
    assert journal.ids("deadline") == [ids[1], ids[2]]
    assert journal.ids("deadl") == [ids[1], ids[2]]  # search as you type
    assert journal.ids("lunch late") == [ids[0]]
    assert journal.ids("special") == [ids[2]]  # analyses are searched too
    assert journal.ids('"; DROP TABLE scenarios; --') == []
    assert journal.count() == 3


def test_filters(journal):
    a = journal.add(_scenario("one", industry="Retail", assessment="reasonable", tags=["pay"], use="eval"))
    b = journal.add(_scenario("two", industry="Hospital nursing", viewpoint="HR", tags=["rota"]))
    assert journal.ids(filters=Filters(industry="retail")) == [a]
    assert journal.ids(filters=Filters(assessment="problematic")) == [b]
    assert journal.ids(filters=Filters(viewpoint="hr")) == [b]
    assert journal.ids(filters=Filters(tag="pay")) == [a]
    assert journal.ids(filters=Filters(use="eval")) == [a]
    assert journal.ids("one", Filters(industry="Retail")) == [a]
    assert journal.ids("one", Filters(industry="Hospital nursing")) == []
    assert journal.distinct("industry") == ["Hospital nursing", "Retail"]
    assert journal.distinct("tag") == ["pay", "rota"]


def test_get_many_keeps_order_and_iter_all_sees_everything(journal):
    ids = journal.add_many(_scenario(f"entry {i}") for i in range(1200))
    picked = [ids[900], ids[3], ids[600]]
    assert [s.id for s in journal.get_many(picked)] == picked
    assert [s.id for s in journal.iter_all()] == ids


def test_fts_query_quotes_every_word():
    assert fts_query('deadline "OR" NEAR(') == '"deadline" "OR" "NEAR"*'
    assert fts_query("  ...  ") is None
