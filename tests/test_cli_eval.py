"""eval's column choice: names the user may type, and a clear refusal of others."""

import argparse

import pytest

from localtune.cli.training_cmds import _columns, _eta


def test_columns_take_the_names_the_app_shows_too():
    assert _columns("base,tuned") == ("base", "tuned")
    assert _columns("Generic, few-shot,generic") == ("base", "few_shot")
    with pytest.raises(argparse.ArgumentTypeError, match="choose from base, few_shot, tuned"):
        _columns("base,best")
    with pytest.raises(argparse.ArgumentTypeError):
        _columns(",")


def test_time_left_reads_as_minutes_and_seconds():
    assert _eta(None) == "ETA --" and _eta(125.4) == "ETA 2:05"
