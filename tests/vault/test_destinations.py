"""Any destination path a user can type for an export or a backup: either a complete new file is written outside
the vault's folder, or (with --overwrite) an earlier localtune file of the same kind is replaced - and otherwise
nothing changes: not the vault, not any other file, and no .partial is left. A property test over paths into the
vault's folder, through links and hard links, onto devices, pipes, folders, missing folders and existing files."""

import io
import os
import stat
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from localtune.errors import LocaltuneError
from localtune.journal import Perspective, Scenario
from localtune.journal.io import export_file, parse_text, scenario_to_dict, write_jsonl
from localtune.vault.store import BACKUP_MAGIC

NAMES = ["vault.db", "vault.kdf.json", "vault.lock", "vault.db-wal", "new.jsonl", "new.csv", "new.json",
         ".hidden.jsonl", "notes.txt", "existing.jsonl", "earlier.jsonl", "earlier.ltbackup", "fifo.jsonl",
         "hard.jsonl", "to-header.jsonl", ""]
PLACES = ["data", "data/sub", "link-to-data", "outside", "outside/../outside", "missing", "outside/earlier.jsonl",
          "/dev/null"]


def _world(root: Path, paths, journal) -> None:
    """Folders, links and files a destination may run into."""
    (root / "outside").mkdir()
    (root / "outside" / "existing.jsonl").write_text("the user's own notes\n")
    (root / "outside" / "notes.txt").write_text("the user's own notes\n")
    export_file(root / "outside" / "earlier.jsonl", journal.iter_all(), paths=paths)
    (root / "outside" / "earlier.ltbackup").write_bytes(BACKUP_MAGIC + b"{}\n" + os.urandom(5000))
    os.mkfifo(root / "outside" / "fifo.jsonl")
    os.link(paths.vault, root / "outside" / "hard.jsonl")
    (root / "outside" / "to-header.jsonl").symlink_to(paths.vault_header)
    (root / "link-to-data").symlink_to(paths.data)


def _files(*folders: Path) -> dict[str, bytes]:
    out = {}
    for folder in folders:
        for p in folder.rglob("*"):
            if p.is_file() and not p.is_symlink() and stat.S_ISREG(os.lstat(p).st_mode):
                out[str(p)] = p.read_bytes()
    return out


def _check(paths, root: Path, dest: str, attempt, is_ours) -> None:
    before = _files(paths.data, root)
    try:
        attempt(dest)
        written = Path(os.path.abspath(dest))
    except LocaltuneError as exc:
        assert str(exc)
        written = None
    after = _files(paths.data, root)
    assert not [p for p in after if ".partial" in p], "a .partial file was left"
    if written is None:
        assert after == before
        return
    real = Path(os.path.realpath(written))
    assert paths.data not in real.parents and real.parent != Path(os.path.realpath(paths.data))
    assert stat.S_ISREG(os.lstat(written).st_mode) and stat.S_IMODE(os.lstat(written).st_mode) == 0o600
    assert is_ours(written.read_bytes())
    changed = {p for p in after if before.get(p) != after[p]} | (set(before) - set(after))
    assert changed <= {str(written)}
    if str(written) in before:  # only an earlier localtune file of the same kind is ever replaced
        assert is_ours(before[str(written)])
    os.unlink(written)


def _dest(root: Path, paths, place: str, name: str) -> str:
    base = {"data": str(paths.data), "data/sub": str(paths.data / "sub")}.get(place) or \
        (place if place.startswith("/") else str(root / place))
    return base if place == "/dev/null" else os.path.join(base, name)


# Besides the names above, any name a user might type (no "/": the places above already cover other folders).
typed = st.tuples(st.text(st.characters(blacklist_characters="/\x00", blacklist_categories=("Cs",)), max_size=300),
                  st.sampled_from([".jsonl", ".csv", ".JSONL", ""])).map("".join)


@settings(max_examples=160, deadline=None, suppress_health_check=list(HealthCheck))
@given(place=st.sampled_from(PLACES), name=st.sampled_from(NAMES) | typed, overwrite=st.booleans())
def test_any_export_destination_writes_a_new_file_or_changes_nothing(paths, journal, tmp_path_factory, place, name,
                                                                      overwrite):
    if journal.count() == 0:
        journal.add_many([Scenario(situation="A plain entry.", perspectives=[Perspective("HR", "mixed", "ok")]),
                          Scenario(situation="=SUM(A1:A9) typed as text")])
    root = tmp_path_factory.mktemp("dest")
    _world(root, paths, journal)
    expected = [scenario_to_dict(s) for s in journal.iter_all()]

    def ours(data: bytes) -> bool:
        text = data.decode("utf-8")
        fmt = "csv" if text.startswith('"situation"') else "jsonl"
        parsed = parse_text(text, fmt)
        return parsed.problems == [] and [scenario_to_dict(s) for s in parsed.scenarios] == expected

    _check(paths, root, _dest(root, paths, place, name),
           lambda dest: export_file(dest, journal.iter_all(), paths=paths, overwrite=overwrite), ours)
    assert journal.count() == 2 and journal.vault.integrity_problems() == []


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(place=st.sampled_from(PLACES), name=st.sampled_from(NAMES), overwrite=st.booleans())
def test_any_backup_destination_writes_a_new_file_or_changes_nothing(paths, vault, journal, tmp_path_factory, place,
                                                                      name, overwrite):
    root = tmp_path_factory.mktemp("dest")
    _world(root, paths, journal)
    _check(paths, root, _dest(root, paths, place, name),
           lambda dest: vault.backup(dest, "backup passphrase", overwrite=overwrite),
           lambda data: data.startswith(BACKUP_MAGIC) and len(data) > 4096)
    assert vault.integrity_problems() == []


def test_the_ui_export_without_paths_still_refuses_the_vault_folder(paths, journal):
    """The app calls export_file without the vault's paths: the folder is still recognised by its key file."""
    journal.add(Scenario(situation="kept"))
    before = _files(paths.data)
    for name in ("vault.kdf.json", "copy.jsonl"):
        try:
            export_file(paths.data / name, journal.iter_all())
        except LocaltuneError as exc:
            assert "vault folder" in str(exc)
        else:
            raise AssertionError(f"{name} was written into the vault folder")
    assert _files(paths.data) == before
    out = io.StringIO()
    assert write_jsonl(journal.iter_all(), out) == 1
