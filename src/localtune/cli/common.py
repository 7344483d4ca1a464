"""What every command shares: paths, passphrase prompts, opening the vault, output."""

from __future__ import annotations

import contextlib
import getpass
import json
import sys
from collections.abc import Iterator

from ..errors import InvalidInputError
from ..journal.repository import Journal
from ..paths import Paths, resolve
from ..services.journal import check_passphrase_text
from ..vault import Vault
from . import editor


def paths_of(args) -> Paths:
    return resolve(args.home)


def ask_secret(prompt: str) -> str:
    """No echo on a terminal; one line from stdin otherwise (scripts, tests)."""
    try:
        if sys.stdin.isatty():
            secret = getpass.getpass(prompt)
        else:
            line = sys.stdin.readline()
            if not line:
                raise InvalidInputError(f"Expected a line on stdin for: {prompt.strip().rstrip(':')}")
            secret = line.rstrip("\r\n")
    except UnicodeDecodeError:
        raise InvalidInputError(f"{prompt.strip().rstrip(':')}: what was typed is not UTF-8 text (check the "
                                "terminal's or the script's encoding). Nothing was changed.") from None
    check_passphrase_text(secret)  # bytes that are not text (a non-UTF-8 locale): said here, clearly
    return secret


def ask_new_secret(what: str = "passphrase") -> str:
    first = ask_secret(f"New {what}: ")
    if ask_secret(f"Repeat the new {what}: ") != first:
        raise InvalidInputError(f"The two {what}s differ; nothing was changed.")
    return first


def confirm(question: str, assume_yes: bool) -> bool:
    if assume_yes:
        return True
    if not sys.stdin.isatty():
        return False
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


@contextlib.contextmanager
def unlocked(args) -> Iterator[Vault]:
    vault = Vault.open(paths_of(args), ask_secret("Passphrase: "))
    editor.clean_leftovers()  # a file an editor session killed half-way left in RAM
    try:
        yield vault
    finally:
        vault.lock()


@contextlib.contextmanager
def journal_of(args) -> Iterator[Journal]:
    with unlocked(args) as vault:
        yield Journal(vault)


def print_json(value) -> None:
    print(json.dumps(value, ensure_ascii=False))


def note(message: str) -> None:
    """Human-facing remarks go to stderr so stdout stays parseable."""
    print(message, file=sys.stderr)
