import json
import os
import sqlite3

import pytest

from localtune.errors import (
    NotFoundError,
    NoVaultError,
    VaultCorruptError,
    VaultExistsError,
    VaultInUseError,
    VaultLockedError,
    VaultTooNewError,
    WrongPassphraseError,
)
from localtune.vault import Vault, kdf
from localtune.vault.store import _connect
from lt_testing import PASS, snapshot


def _reopen(paths, passphrase=PASS):
    return Vault.open(paths, passphrase)


def test_vault_file_is_encrypted_and_settings_are_pinned(vault, paths):
    conn = vault.conn
    assert conn.execute("PRAGMA temp_store").fetchone()[0] == 2
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2
    assert conn.execute("PRAGMA secure_delete").fetchone()[0] == 1
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA cipher_version").fetchone()[0]
    vault.lock()
    assert not paths.vault.read_bytes().startswith(b"SQLite format 3")
    header = json.loads(paths.vault_header.read_text())
    slot = header["slots"][0]
    assert slot["kdf"] == "argon2id" and slot["memory_kib"] >= 65536 and slot["time_cost"] >= 3
    assert len(__import__("base64").b64decode(slot["salt"])) == 16
    assert oct(paths.vault.stat().st_mode & 0o777) == "0o600"


def test_no_vault_and_existing_vault_errors(paths):
    with pytest.raises(NoVaultError):
        Vault.open(paths, PASS)
    Vault.create(paths, PASS).lock()
    with pytest.raises(VaultExistsError):
        Vault.create(paths, PASS)


def test_wrong_passphrase_changes_no_byte(vault, paths):
    vault.set_setting("x", 1)
    vault.lock()
    before = snapshot(paths.data)
    with pytest.raises(WrongPassphraseError):
        Vault.open(paths, "not the passphrase")
    assert snapshot(paths.data) == before
    assert _reopen(paths).get_setting("x") == 1


def test_second_opener_is_refused_while_open(vault, paths):
    with pytest.raises(VaultInUseError):
        Vault.open(paths, PASS)
    vault.lock()
    _reopen(paths).lock()


def test_lock_makes_the_vault_unusable(vault):
    conn = vault.conn
    vault.lock()
    with pytest.raises(VaultLockedError):
        _ = vault.conn
    with pytest.raises(Exception, match="closed"):
        conn.execute("SELECT 1")


def test_newer_schema_is_refused_untouched(vault, paths):
    vault.conn.execute("PRAGMA user_version = 99")
    vault.lock()
    before = paths.vault.read_bytes()
    with pytest.raises(VaultTooNewError, match="newer localtune"):
        Vault.open(paths, PASS)
    assert paths.vault.read_bytes() == before


def test_change_passphrase_uses_new_salt_and_keeps_data(vault, paths):
    vault.put_blob("b", "test", b"payload")
    old_salt = json.loads(paths.vault_header.read_text())["slots"][0]["salt"]
    vault.change_passphrase("a brand new passphrase")
    assert vault.read_blob("b") == b"payload"
    vault.lock()
    assert json.loads(paths.vault_header.read_text())["slots"][0]["salt"] != old_salt
    with pytest.raises(WrongPassphraseError):
        Vault.open(paths, PASS)
    with Vault.open(paths, "a brand new passphrase") as v:
        assert v.read_blob("b") == b"payload"
        assert v.integrity_problems() == []
    assert sorted(os.listdir(paths.data)) == ["vault.db", "vault.kdf.json", "vault.lock"]


def _half_done_change(paths, db_is_new: bool):
    """Recreate the two moments of an interrupted change: header names both keys, db is old or new."""
    old_slots = kdf.loads(paths.vault_header.read_bytes())
    new_slot, new_key = kdf.new_slot("the new passphrase")
    if db_is_new:
        old_key = old_slots[0].derive(PASS)
        conn = _connect(paths.vault, old_key)
        conn.execute(f"PRAGMA rekey = {kdf.sql_key(new_key)}")
        conn.close()
    kdf.write_atomic(paths.vault_header, kdf.dumps([old_slots[0], new_slot]))


@pytest.mark.parametrize("db_is_new", [False, True])
def test_interrupted_change_opens_with_exactly_one_passphrase(vault, paths, db_is_new):
    vault.set_setting("kept", "yes")
    vault.lock()
    _half_done_change(paths, db_is_new)
    right, wrong = ("the new passphrase", PASS) if db_is_new else (PASS, "the new passphrase")
    with pytest.raises(WrongPassphraseError, match="interrupted"):
        Vault.open(paths, wrong)
    with Vault.open(paths, right) as v:
        assert v.get_setting("kept") == "yes"
    assert len(json.loads(paths.vault_header.read_text())["slots"]) == 1  # recovery finished the change
    with pytest.raises(WrongPassphraseError):
        Vault.open(paths, wrong)


def test_backup_and_restore_round_trip(vault, paths, tmp_path):
    vault.put_blob("adapter", "adapter", os.urandom(3 * 1024 * 1024 + 7))
    original = vault.read_blob("adapter")
    backup = vault.backup(tmp_path / "journal.ltbackup", "backup passphrase")
    assert not backup.read_bytes().count(original[:64])
    vault.delete_blob("adapter")
    vault.lock()
    restored = Vault.restore(paths, backup, "backup passphrase", PASS)
    assert restored.read_blob("adapter") == original
    restored.lock()
    Vault.open(paths, PASS).lock()  # the live passphrase stays


def test_restore_into_an_empty_home_takes_the_backup_passphrase(vault, paths, tmp_path):
    vault.set_setting("k", [1, 2])
    backup = vault.backup(tmp_path / "b.ltbackup", "backup passphrase")
    vault.lock()
    for f in paths.data.iterdir():
        f.unlink()
    with Vault.restore(paths, backup, "backup passphrase") as v:
        assert v.get_setting("k") == [1, 2]
    Vault.open(paths, "backup passphrase").lock()


@pytest.mark.parametrize("damage", ["wrong passphrase", "flipped byte", "truncated", "not a backup"])
def test_bad_backup_never_touches_the_live_vault(vault, paths, tmp_path, damage):
    vault.set_setting("live", True)
    backup = vault.backup(tmp_path / "b.ltbackup", "backup passphrase")
    vault.lock()
    data = bytearray(backup.read_bytes())
    passphrase = "backup passphrase"
    if damage == "wrong passphrase":
        passphrase = "something else"
    elif damage == "flipped byte":
        data[-3000] ^= 0x40
    elif damage == "truncated":
        data = data[: len(data) - 5000]
    else:
        data = b"hello" + data
    backup.write_bytes(bytes(data))
    before = snapshot(paths.data)
    expected = WrongPassphraseError if damage == "wrong passphrase" else VaultCorruptError
    with pytest.raises(expected):
        Vault.restore(paths, backup, passphrase, PASS)
    assert snapshot(paths.data) == before
    with Vault.open(paths, PASS) as v:
        assert v.get_setting("live") is True


def test_blob_store_streams_chunks_and_checks_them(vault):
    payload = os.urandom(2 * 1024 * 1024 + 123)
    info = vault.put_blob("weights", "adapter", iter([payload[:1000], payload[1000:]]), {"r": 16})
    assert info.size == len(payload) and info.meta == {"r": 16}
    chunks = list(vault.iter_blob("weights"))
    assert len(chunks) == 3 and b"".join(chunks) == payload
    assert vault.read_blob("weights") == payload
    vault.rename_blob("weights", "weights-v2")
    assert [b.name for b in vault.list_blobs("adapter")] == ["weights-v2"]
    vault.delete_blob("weights-v2")
    with pytest.raises(NotFoundError):
        vault.read_blob("weights-v2")
    assert vault.conn.execute("SELECT count(*) FROM blob_chunks").fetchone()[0] == 0


def _plain_sqlite(path):
    path.unlink()
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t(x)")
    conn.commit()
    conn.close()


def _other_settings(path):
    """A real SQLCipher file under the same key but SQLCipher 3 settings."""
    from localtune.vault.store import _dbapi

    key = kdf.loads(path.with_name("vault.kdf.json").read_bytes())[0].derive(PASS)
    path.unlink()
    conn = _dbapi().connect(str(path))
    conn.execute(f"PRAGMA key = {kdf.sql_key(key)}")
    conn.execute("PRAGMA cipher_compatibility = 3")
    conn.execute("CREATE TABLE t(x)")
    conn.commit()
    conn.close()


DAMAGES = {
    "truncated": lambda p: p.write_bytes(p.read_bytes()[: 4096 + 100]),
    "truncated at a page": lambda p: p.write_bytes(p.read_bytes()[:8192]),
    "empty": lambda p: p.write_bytes(b""),
    "flipped byte": lambda p: p.write_bytes(_flip(p.read_bytes(), 4096 + 200)),
    "plain sqlite": _plain_sqlite,
    "random bytes": lambda p: p.write_bytes(os.urandom(len(p.read_bytes()))),
    "other sqlcipher settings": _other_settings,
}


def _flip(data: bytes, at: int) -> bytes:
    out = bytearray(data)
    out[at] ^= 0x01
    return bytes(out)


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_corrupt_file_suite(vault, paths, journal, damage):
    from localtune.journal import Perspective, Scenario

    journal.add_many(Scenario(situation=f"situation {i} " * 40, perspectives=[Perspective("employee", "mixed", "x" * 500)]) for i in range(40))
    vault.lock()
    DAMAGES[damage](paths.vault)
    before = snapshot(paths.data)
    with pytest.raises(VaultCorruptError) as caught:
        Vault.open(paths, PASS)
    assert "backup" in str(caught.value) or "not a localtune vault" in str(caught.value)
    assert snapshot(paths.data) == before
    with pytest.raises(WrongPassphraseError):  # a wrong passphrase still reads as wrong, not as corrupt
        Vault.open(paths, "wrong passphrase")


def test_damaged_header_is_reported(vault, paths):
    vault.lock()
    paths.vault_header.write_text("{not json")
    with pytest.raises(VaultCorruptError, match="key file"):
        Vault.open(paths, PASS)


def test_a_new_vault_never_takes_in_a_stale_wal(vault, paths):
    """A -wal left by a vault that is gone (its files deleted by hand) is set aside, not applied to a new vault."""
    vault.set_setting("from the old vault", True)
    stale = (paths.data / "vault.db-wal").read_bytes()
    vault.lock()
    for name in ("vault.db", "vault.kdf.json"):
        (paths.data / name).unlink()
    (paths.data / "vault.db-wal").write_bytes(stale)
    with Vault.create(paths, PASS) as fresh:
        assert fresh.get_setting("from the old vault") is None and fresh.integrity_problems() == []
    aside = [p for p in paths.data.iterdir() if p.name.startswith("damaged-")]
    assert len(aside) == 1 and (aside[0] / "vault.db-wal").read_bytes() == stale
