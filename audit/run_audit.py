#!/usr/bin/env python3
"""The privacy and reliability audit: checks localtune's promises on this machine and prints the evidence.

    .venv/bin/python audit/run_audit.py            # everything (~15 min on 2 cores); exit code 1 on any FAIL
    .venv/bin/python audit/run_audit.py --keep     # keep the work folder to inspect it afterwards

Needs Linux with `unshare` (user namespaces) and `strace`. Every check has a self-test that plants what it
looks for (a connection, a canary, an adapter file) and must find it, so a check cannot pass by seeing nothing.
Runs outside pytest on purpose: some libraries behave differently under it.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
PW, NEW_PW, BACKUP_PW = "audit passphrase 1", "audit passphrase 2", "audit backup passphrase"
STEP_TIMEOUT_S = 1200  # per CLI step; a clean 2-core machine needs under 3 minutes for the slowest
TRACE = ["strace", "-f", "-qq", "--seccomp-bpf", "-e", "trace=connect,sendto,sendmsg,sendmmsg"]
# Known product bugs, shown as KNOWN instead of FAIL so CI stays green while they are open. A KNOWN check
# that passes is reported as FAIL, so the entry gets removed once the bug is fixed (like a strict xfail).
KNOWN: dict[str, str] = {}

rows: list[tuple[str, str, str, str]] = []


def record(section: str, check: str, ok: bool, detail: str = "") -> bool:
    status = "PASS" if ok else "FAIL"
    if check in KNOWN:
        status = "FAIL" if ok else "KNOWN"
        detail = (detail + "; " if detail else "") + ("fixed? remove from KNOWN" if ok else KNOWN[check])
    rows.append((section, check, status, detail))
    print(f"  {status:5} {section}: {check}  {detail}", flush=True)
    return ok


# -- the environment every process of the audit gets -----------------------------------------------------


def make_env(work: Path) -> dict[str, str]:
    """A clean environment: a private HOME, XDG folders and TMPDIR, so the residue check sees every file
    written. Nothing from the caller's environment (no HF_*_OFFLINE): the app must go offline by itself."""
    home = work / "home"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "HOME": str(home),
        "TMPDIR": str(work / "tmp"), "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"), "XDG_DATA_HOME": str(home / ".local/share"),
        "XDG_STATE_HOME": str(home / ".local/state"), "XDG_RUNTIME_DIR": str(work / "run"),
        "QT_QPA_PLATFORM": "offscreen", "PYTHONDONTWRITEBYTECODE": "1",
    }
    for key in ("HOME", "TMPDIR", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME",
                "XDG_RUNTIME_DIR"):
        Path(env[key]).mkdir(parents=True, exist_ok=True, mode=0o700)
    return env


# -- inputs: a small journal; 20 canaries (15 imported, 5 typed in the app) ----------------------------------

FIELDS = [("Retail", "till counts and customer complaints"), ("Hospital nursing", "medicine checks and handover"),
          ("Software engineering", "code review and on-call"), ("Hospitality", "rotas and tips")]
CASES = [
    ("problematic", "My {role} shouted at me in front of everyone over a small mistake on the {thing}.",
     "Public humiliation over a minor error breaks the basic norm of correcting people in private."),
    ("reasonable", "My {role} asked me to redo the {thing} after a colleague found an error in it.",
     "Asking for a correction after an error is found is a normal part of quality control here."),
    ("mixed", "My {role} changed the {thing} at short notice but offered me extra time off for it.",
     "Short notice is hard on staff, but the offer shows an effort to be fair; it depends on how often."),
]


IMPORTED = 15  # canaries 0-14 come in through the import file; 15-19 are typed in the desktop app


def canary_set() -> list[str]:
    # A shared prefix lets the scanner find candidates in one pass; the rest makes each one unique.
    return [f"cnry{i:02d}{secrets.token_hex(5)}" for i in range(20)]


def write_inputs(folder: Path, canaries: list[str]) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    docs = []
    for n in range(66):  # 66 scenarios, one perspective each: above the 50-example minimum
        label, situation, analysis = CASES[n % 3]
        industry, thing = FIELDS[n % 4]
        role = ["manager", "supervisor", "team lead"][n % 3]
        doc = {"situation": situation.format(role=role, thing=thing) + f" (case {n})", "industry": industry,
               "context": f"In {industry.lower()}, {thing} follow written procedures.",
               "perspectives": [{"viewpoint": ["employee", "manager", "HR"][n % 3], "assessment": label,
                                 "analysis": analysis}], "use": "eval" if n % 11 == 0 else "train"}
        if n < IMPORTED:  # the canaries, in every field a user writes
            where = n % 4
            c = canaries[n]
            if where == 0:
                doc["situation"] += f" My colleague {c} saw it."
            elif where == 1:
                doc["context"] += f" The policy is called {c}."
            elif where == 2:
                doc["people"] = [c]
                doc["situation"] += f" {c} was there."
            else:
                doc["perspectives"][0]["analysis"] += f" Reference {c}."
        docs.append(doc)
    journal = folder / "journal.jsonl"
    journal.write_text("\n".join(json.dumps(d) for d in docs) + "\n", encoding="utf-8")
    held_out = folder / "eval.jsonl"  # a small labelled file for `eval --data`
    held_out.write_text("\n".join(json.dumps({
        "situation": CASES[k % 3][1].format(role="boss", thing=FIELDS[k % 4][1]) + f" Reported by {canaries[k]}.",
        "industry": FIELDS[k % 4][0],
        "perspectives": [{"viewpoint": "employee", "assessment": CASES[k % 3][0], "analysis": CASES[k % 3][2]}]})
        for k in range(6)) + "\n", encoding="utf-8")
    return journal, held_out


# -- 1 and 2: the CLI workflow, air-gapped and traced -----------------------------------------------------


def workflow(inputs: tuple[Path, Path], canaries: list[str], backup_file: Path) -> list[tuple[str, list[str], str]]:
    journal, held_out = inputs
    return [
        ("init", ["init"], f"{PW}\n{PW}\n"),
        ("import", ["import", str(journal)], f"{PW}\n"),
        ("check", ["check", "--json"], f"{PW}\n"),
        ("train", ["train", "--max-steps", "2", "--json"], f"{PW}\n"),
        ("adapters", ["adapters", "list", "--json"], f"{PW}\n"),
        ("analyze", ["analyze", "--compare", "--json", f"My manager {canaries[5]} asked me to cover a shift."],
         f"{PW}\n"),
        ("eval", ["eval", "--json", "--data", str(held_out)], f"{PW}\n"),
        ("backup", ["backup", str(backup_file)], f"{PW}\n{BACKUP_PW}\n{BACKUP_PW}\n"),
        ("restore", ["restore", str(backup_file)], f"{PW}\n{BACKUP_PW}\n"),
        ("passwd", ["passwd"], f"{PW}\n{NEW_PW}\n{NEW_PW}\n"),
        ("unlock-new", ["list"], f"{NEW_PW}\n"),
        ("demo", ["--home", "{demo_home}", "init"], f"{PW}\n{PW}\n"),
        ("demo", ["--home", "{demo_home}", "demo"], f"{PW}\n"),
    ]


def run_workflow(name: str, env: dict, work: Path, inputs, canaries, prefix: list[str]) -> dict:
    """Each step as its own process, as a user runs them; returns {step: (seconds, returncode, stderr)}."""
    lt_home, demo_home = work / f"lt-{name}", work / f"lt-{name}-demo"
    (work / "home" / "Documents").mkdir(parents=True, exist_ok=True)
    steps = workflow(inputs, canaries, work / "home" / "Documents" / f"{name}.ltbackup")
    out, traces = {}, work / "traces"
    traces.mkdir(exist_ok=True)
    for number, (step, args, stdin) in enumerate(steps):
        args = [a.replace("{demo_home}", str(demo_home)) for a in args]
        wrap = [*prefix, "-o", str(traces / f"{name}-{number:02d}-{step}.txt")]
        t0 = time.monotonic()
        try:
            r = subprocess.run([*wrap, PY, "-m", "localtune", *args], input=stdin, capture_output=True, text=True,
                               env={**env, "LOCALTUNE_HOME": str(lt_home)}, timeout=STEP_TIMEOUT_S, cwd=work)
            code, err, stdout = r.returncode, r.stderr, r.stdout
        except subprocess.TimeoutExpired:
            code, err, stdout = 124, f"timed out after {STEP_TIMEOUT_S}s", ""
        seconds = time.monotonic() - t0
        key = step if step not in out else f"{step}+"
        out[key] = (seconds, code, err[-600:], stdout[-2000:])
        print(f"    {name:8} {step:10} {seconds:7.1f}s  exit {code}", flush=True)
    return out


_ADDR = re.compile(r'sa_family=(AF_INET6?),.*?(?:inet_addr\("([^"]+)"\)|inet_pton\(AF_INET6, "([^"]+)")')


def outside_connections(trace_text: str) -> list[str]:
    """Lines of a strace log that address a non-loopback IPv4/IPv6 peer (AF_UNIX and netlink are fine)."""
    found = []
    for line in trace_text.splitlines():
        for _family, v4, v6 in _ADDR.findall(line):
            addr = ipaddress.ip_address(v4 or v6)
            mapped = getattr(addr, "ipv4_mapped", None)
            if not (addr.is_loopback or (mapped is not None and mapped.is_loopback)):
                found.append(line.strip()[:200])
    return found


def check_network(env: dict, work: Path, inputs, canaries) -> Path | None:
    section = "1 air gap"
    probe = "import socket,time;t=time.monotonic();\ntry: socket.create_connection(('192.0.2.1',80),timeout=5)\n" \
            "except OSError as e: print(type(e).__name__, round(time.monotonic()-t,2))"
    r = subprocess.run(["unshare", "-rn", PY, "-c", probe], capture_output=True, text=True, env=env)
    if not record(section, "unshare -rn gives a namespace without network (connect fails at once)",
                  r.returncode == 0 and r.stdout.startswith("OSError"), (r.stdout + r.stderr).strip()[:120]):
        return None
    # Traced offline too: the timings compare like with like, and an attempt that fails offline shows.
    air = run_workflow("airgap", env, work, inputs, canaries, ["unshare", "-rn", *TRACE])
    failed = {k: v[2] for k, v in air.items() if v[1] != 0}
    record(section, "whole CLI workflow succeeds offline", not failed,
           f"{len(air)} steps" if not failed else "; ".join(f"{k}: {v[-200:]}" for k, v in failed.items()))

    section = "2 no connection"
    bait = work / "traces" / "selftest.txt"
    (work / "traces").mkdir(exist_ok=True)
    subprocess.run([*TRACE, "-o", str(bait), PY, "-c", "import socket,threading;t=threading.Thread(target=lambda: "
                    "socket.socket(socket.AF_INET,socket.SOCK_DGRAM).connect(('192.0.2.7',9)));t.start();t.join()"],
                   env=env, check=True)
    record(section, "self-test: the parser sees a connect from a thread", bool(outside_connections(bait.read_text())))
    net = run_workflow("net", env, work, inputs, canaries, TRACE)
    failed = {k: v[2] for k, v in net.items() if v[1] != 0}
    record(section, "whole CLI workflow succeeds with network (traced)", not failed,
           "" if not failed else "; ".join(f"{k}: {v[-200:]}" for k, v in failed.items()))
    hits, calls = [], 0
    for trace in sorted((work / "traces").glob("*-*.txt")):
        text = trace.read_text(errors="replace")
        calls += text.count("connect(") + text.count("send")
        hits += [f"{trace.stem}: {h}" for h in outside_connections(text)]
    record(section, "no connect/send to a non-loopback address, online or offline (all processes, threads)", not hits,
           f"{calls} traced calls, {len(hits)} outside" + (f": {hits[:3]}" if hits else ""))

    # A network wait shows as a step much slower offline than online (both traced alike). With no outside
    # connection attempted at all (above) there is nothing to wait on; this is the timing view of the same.
    # The margin is wide because the offline run also pays first-use work (the starter's conversion) and a
    # busy 2-core machine doubles a training step's time (seen: train 277 s offline vs 130 s online while a
    # build ran); a Hub client's retries and timeouts cost minutes, which still shows.
    slow = [f"{k} {air[k][0]:.0f}s vs {net[k][0]:.0f}s" for k in air if k in net and air[k][0] > 2 * net[k][0] + 150]
    table = ", ".join(f"{k} {air[k][0]:.1f}/{net[k][0]:.1f}" for k in air if k in net)
    record("1 air gap", "no step waits on a network timeout (offline/online s)", not slow,
           (f"slow: {slow}; " if slow else "") + table)
    return work / "lt-airgap" / "cache" / "models"


# -- 3: residue -------------------------------------------------------------------------------------------


def scan(roots: list[Path], canaries: list[str], skip: set[Path]) -> dict[str, list[str]]:
    """canary -> files holding it in UTF-8, UTF-16-LE or UTF-16-BE; each file is read once."""
    prefixes = {enc: b"cnry".decode().encode(enc) for enc in ("utf-8", "utf-16-le", "utf-16-be")}
    found: dict[str, list[str]] = {}
    for root in roots:
        for p in root.rglob("*"):
            if any(p == s or s in p.parents for s in skip) or not p.is_file() or p.is_symlink():
                continue
            try:
                data = p.read_bytes()
            except OSError:
                continue
            for enc, prefix in prefixes.items():
                if prefix in data:
                    for c in canaries:
                        if c.encode(enc) in data:
                            found.setdefault(c, []).append(str(p))
    return found


ADAPTER_NAMES = re.compile(r"(adapter_config\.json|adapter_model\..*|optimizer\.pt|trainer_state\.json|"
                           r"scheduler\.pt|rng_state.*\.pth|training_args\.bin|.*\.safetensors|.*\.ckpt)$")


def adapter_files(roots: list[Path]) -> list[str]:
    """Adapter/checkpoint-like files outside a base-model cache (<LOCALTUNE_HOME>/cache/models/<model>/)."""
    out = []
    for root in roots:
        for p in root.rglob("*"):
            if p.is_file() and ADAPTER_NAMES.match(p.name):
                if p.suffix == ".safetensors" and p.parent.parent.name == "models" and \
                        p.parent.parent.parent.name == "cache" and (p.parent / "config.json").exists() \
                        and not (p.parent / "adapter_config.json").exists():
                    continue  # the public base model
                out.append(str(p))
    return out


def check_residue(env: dict, work: Path, canaries: list[str], inputs_dir: Path) -> None:
    section = "3 no residue"
    roots = [work / "home", work / "tmp", work / "run", *sorted(work.glob("lt-*"))]
    shm = Path("/dev/shm")
    scan_roots = roots + ([shm] if shm.is_dir() else [])
    bait = work / "home" / ".config" / "bait.txt"
    bait.write_bytes(f"planted {canaries[7]}".encode("utf-16-le"))
    fake = work / "tmp" / "checkpoint-1" / "adapter_config.json"
    fake.parent.mkdir(parents=True)
    fake.write_text("{}")
    seen = scan(roots, canaries, set())
    record(section, "self-test: a planted UTF-16 canary and adapter file are found",
           str(bait) in seen.get(canaries[7], []) and str(fake) in adapter_files(roots))
    bait.unlink()
    shutil.rmtree(fake.parent)

    t0 = time.monotonic()
    files = sum(1 for r in scan_roots for p in r.rglob("*") if p.is_file())
    found = scan(scan_roots, canaries, {inputs_dir, work / "traces"})
    record(section, f"none of {len(canaries)} canaries in any file (UTF-8/UTF-16)", not found,
           f"{files} files under HOME, TMPDIR, XDG dirs, LOCALTUNE_HOMEs, /dev/shm in {time.monotonic() - t0:.0f}s"
           + (f"; found: {dict(list(found.items())[:3])}" if found else ""))
    qt_files = [str(p.relative_to(work)) for p in (work / "home").rglob("*") if p.is_file()]
    record(section, "files the app left in HOME (Qt config, caches)", True, ", ".join(qt_files[:8]) or "none")
    leftovers = adapter_files(roots)
    record(section, "no adapter or checkpoint file outside the base-model cache", not leftovers,
           "; ".join(leftovers[:3]))
    homes = sorted(work.glob("lt-*"))
    plain = [str(h) for h in homes for p in h.rglob("*.db") if p.read_bytes()[:16] == b"SQLite format 3\x00"]
    record(section, "every database file is encrypted (no SQLite header)", not plain, "; ".join(plain))


# -- the GUI session ----------------------------------------------------------------------------------------


def check_gui(env: dict, work: Path, inputs, canaries, model_cache: Path | None) -> None:
    section = "3 GUI session"
    lt_home = work / "lt-gui"
    if model_cache is not None and model_cache.is_dir():  # public base model: skip a second conversion
        shutil.copytree(model_cache, lt_home / "cache" / "models", dirs_exist_ok=True)
    trace = work / "traces" / "gui.txt"
    trace.parent.mkdir(exist_ok=True)  # also when the network section did not run (--only gui)
    t0 = time.monotonic()
    r = subprocess.run([*TRACE, "-o", str(trace), PY, str(ROOT / "audit" / "gui_session.py"), str(inputs[0]),
                        *canaries[IMPORTED:]], capture_output=True, text=True, timeout=1800,
                       env={**env, "LOCALTUNE_HOME": str(lt_home)})
    detail = r.stdout.strip().splitlines()[-1] if r.returncode == 0 and r.stdout.strip() else r.stderr[-400:]
    record(section, "create, import, add, edit, search, train, compare, lock (offscreen)", r.returncode == 0,
           f"{time.monotonic() - t0:.0f}s {detail}")
    hits = outside_connections(trace.read_text(errors="replace")) if trace.exists() else ["no trace"]
    record("2 no connection", "the desktop app makes no outside connection either", not hits, "; ".join(hits[:3]))


# -- 4 and 5: crash safety, full disk, bad input, lock ------------------------------------------------------


def check_crashes(env: dict, work: Path, scale: float, model_cache: Path | None) -> None:
    section = "4 crash safety"
    args = [PY, str(ROOT / "audit" / "crash.py"), str(work / "crash"), "--scale", str(scale)]
    if model_cache is not None:
        args += ["--model-cache", str(model_cache)]
    r = subprocess.run(args, capture_output=True, text=True, env={**env, "LOCALTUNE_HOME": str(work / "lt-crash")},
                       timeout=3600)
    results = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    total = 0
    for res in results:
        total += res["kills"]
        extra = {k: v for k, v in res.items() if k not in ("scenario", "kills", "problems", "seconds")}
        record(section, f"SIGKILL during {res['scenario']}", not res["problems"],
               f"{res['kills']} kills, {extra}, {res['seconds']}s" + (f"; {res['problems'][:2]}" if res["problems"] else ""))
    record(section, "all crash scenarios ran", r.returncode == 0 and len(results) >= 4,
           f"{total} random SIGKILLs" + ("" if r.returncode == 0 else f"; {r.stderr[-300:]}"))


def check_full_disk(env: dict, work: Path) -> None:
    section = "4 full disk"
    data, backup = work / "disk-data", work / "disk-backup"
    data.mkdir()
    backup.mkdir()
    script = (f"mount -t tmpfs -o size=2m none {data} && mount -t tmpfs -o size=1m none {backup} && "
              f"exec {PY} {ROOT / 'audit' / 'full_disk.py'} {data} {backup}")
    r = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, env=env, timeout=600)
    try:
        res = json.loads(r.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        record(section, "full-disk scenario ran (tmpfs in a mount namespace)", False, r.stderr[-300:])
        return
    problems = res["problems"]
    lost = [p for p in problems if "present" in p or "integrity" in p or "changed" in p or "left files" in p
            or "reported success" in p or "never filled" in p]
    record(section, "nothing lost when a commit or a backup hits a full disk", not lost,
           f"{res['commits_before_full']} commits kept, all present after freeing space" if not lost else "; ".join(lost))
    unclear = [p for p in problems if p not in lost]
    record(section, "full disk: clear error", not unclear,
           f"commit: {res.get('commit_error')}; backup: {res.get('backup_error')}; CLI: {res.get('cli_says')}")


def check_pytest(env: dict, work: Path, fuzz: int, stateful: int) -> None:
    groups = [
        ("5 bad input", "corrupt-file suite", ["tests/vault/test_vault.py", "-k", "corrupt or bad_backup or damaged"]),
        ("5 bad input", f"fuzzed importers ({fuzz} cases per property, 5 properties)",
         ["tests/journal/test_import_fuzz.py", "tests/journal/test_io.py"]),
        ("5 bad input", "property tests: any destination path, any key-header parameter, any CSV with one bad row",
         ["tests/vault/test_destinations.py", "tests/vault/test_header_bounds.py", "tests/journal/test_csv_rows.py"]),
        ("5 bad input", f"stateful vault test ({stateful} sequences of up to 30 steps)",
         ["tests/test_stateful_vault.py"]),
        ("6 lock", "idle lock on a fake clock; connection closed; every model empty",
         ["tests/ui/test_ui_lock.py", "tests/ui/test_ui_vault_flow.py", "-k", "lock"]),
    ]
    test_env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "LOCALTUNE_FUZZ_EXAMPLES": str(fuzz),
                "LOCALTUNE_STATEFUL_EXAMPLES": str(stateful), "LOCALTUNE_STATEFUL_STEPS": "30",
                "TMPDIR": str(work / "pytest-tmp")}
    (work / "pytest-tmp").mkdir(exist_ok=True)
    for section, name, args in groups:
        t0 = time.monotonic()
        r = subprocess.run([PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "", *args], cwd=ROOT,
                           capture_output=True, text=True, env=test_env, timeout=3600)
        lines = r.stdout.strip().splitlines() or ["no output"]
        # On a failure, name the test and its first error line, so the table alone says what broke.
        why = [line for line in lines if line.startswith(("FAILED", "ERROR", "E "))][:3]
        record(section, name, r.returncode == 0, f"{lines[-1]} ({time.monotonic() - t0:.0f}s)"
               + (f"; {' | '.join(why)}" if r.returncode else ""))


# -- 7: where a file may be written, and what a key header may ask for ---------------------------------------


def _cli(env: dict, home: Path, args: list[str], stdin: str, timeout: int = 120) -> tuple[int, str, float]:
    """One CLI run as a user makes it: (exit code, stderr, seconds)."""
    t0 = time.monotonic()
    try:
        r = subprocess.run([PY, "-m", "localtune", *args], input=stdin, capture_output=True, text=True,
                           env={**env, "LOCALTUNE_HOME": str(home)}, timeout=timeout)
    except subprocess.TimeoutExpired:
        return 124, f"timed out after {timeout}s", time.monotonic() - t0
    return r.returncode, r.stderr.strip(), time.monotonic() - t0


def _vault_digest(home: Path) -> str:
    import hashlib

    data = home / "data"
    return hashlib.sha256(b"".join((data / n).read_bytes() for n in ("vault.db", "vault.kdf.json"))).hexdigest()


def check_destinations_and_headers(env: dict, work: Path) -> None:
    section = "7 paths+headers"
    home = work / "lt-paths"
    code, err, _ = _cli(env, home, ["init"], f"{PW}\n{PW}\n")
    code2, err2, _ = _cli(env, home, ["add", "--situation", "kept whatever is typed"], f"{PW}\n")
    ok = code == 0 and code2 == 0
    if not record(section, "a vault to aim at (init, add)", ok, "" if ok else (err + err2)[-200:]):
        return
    data, outside = home / "data", work / "paths-outside"
    outside.mkdir(exist_ok=True)
    (outside / "link-to-vault").symlink_to(data)
    mine = outside / "my-notes.jsonl"
    mine.write_text("the user's own file\n")
    before, mine_before = _vault_digest(home), mine.read_bytes()
    # Self-test: the digest sees a single changed byte, and a harmless destination is written.
    scratch = work / "lt-paths-scratch"
    shutil.copytree(home, scratch)
    with open(scratch / "data" / "vault.kdf.json", "r+b") as f:
        f.seek(10)
        byte = f.read(1)
        f.seek(10)
        f.write(bytes([byte[0] ^ 1]))
    ok_path = outside / "fine.jsonl"
    code, err, _ = _cli(env, home, ["export", str(ok_path), "--yes"], f"{PW}\n")
    ok = _vault_digest(scratch) != before and code == 0 and ok_path.exists()
    record(section, "self-test: a changed byte is seen; a new file outside the vault is written", ok,
           "" if ok else err[-160:])
    shutil.rmtree(scratch)
    backup_in = f"{PW}\n{BACKUP_PW}\n{BACKUP_PW}\n"
    attempts = [
        (["export", str(data / "vault.kdf.json"), "--yes"], f"{PW}\n"),
        (["export", str(data / "copy.csv"), "--yes"], f"{PW}\n"),
        (["export", str(outside / "link-to-vault" / "copy.jsonl"), "--yes"], f"{PW}\n"),
        (["backup", str(data / "vault.db")], backup_in),
        (["backup", str(data / "vault.db"), "--overwrite"], backup_in),
        (["backup", "/dev/null"], backup_in),
        (["backup", str(mine), "--overwrite"], backup_in),
        (["export", str(mine), "--yes", "--overwrite"], f"{PW}\n"),
        (["export", str(ok_path), "--yes"], f"{PW}\n"),
    ]
    wrong = []
    for args, stdin in attempts:
        code, err, _ = _cli(env, home, args, stdin)
        if code != 1 or "Traceback" in err or "unexpected" in err:
            wrong.append(f"{' '.join(args[:2])} -> exit {code}: {err[-100:]}")
    unchanged = _vault_digest(home) == before and mine.read_bytes() == mine_before
    code, err, _ = _cli(env, home, ["list"], f"{PW}\n")
    record(section, "export/backup onto the vault's files, into its folder (also via a link), onto a device or "
           "another file: refused, nothing changed", not wrong and unchanged and code == 0,
           f"{len(attempts)} refused" if not wrong else "; ".join(wrong[:3]))

    # Key header: a tampered parameter is refused at once, named, without deriving (no hang, no 16 GiB).
    header = data / "vault.kdf.json"
    good = header.read_text()
    timings = []
    bad = []
    for field, value in (("time_cost", 10**9), ("memory_kib", 16 * 1024 * 1024), ("parallelism", 2**40),
                         ("memory_kib", "65536"), ("salt", 7)):
        doc = json.loads(good)
        doc["slots"][0][field] = value
        header.write_text(json.dumps(doc))
        code, err, seconds = _cli(env, home, ["list"], f"{PW}\n", timeout=60)
        timings.append(f"{field} {seconds:.1f}s")
        if code != 1 or field not in err or seconds > 20:
            bad.append(f"{field}={value!r}: exit {code} in {seconds:.0f}s: {err[-100:]}")
    # Self-test: a header within the bounds is used (derived): time_cost 4 gives a key that does not match.
    doc = json.loads(good)
    doc["slots"][0]["time_cost"] = 4
    header.write_text(json.dumps(doc))
    code, err, _ = _cli(env, home, ["list"], f"{PW}\n")
    derived = code == 1 and "Wrong passphrase" in err
    header.write_text(good)
    code, _, _ = _cli(env, home, ["list"], f"{PW}\n")
    record(section, "self-test: a header parameter within bounds is used (time_cost 4: wrong key)", derived,
           "" if derived else err[-120:])
    record(section, "out-of-range or mistyped key-header parameters refused at once, naming the parameter",
           not bad and code == 0, "; ".join(bad[:3]) if bad else ", ".join(timings))


# -- main -------------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", help="work folder (default: a new temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--crash-scale", type=float, default=1.0, help="multiplies the number of kills")
    parser.add_argument("--fuzz", type=int, default=1500, help="hypothesis cases per importer property")
    parser.add_argument("--stateful", type=int, default=15, help="stateful test sequences")
    parser.add_argument("--only", default="network,gui,residue,crash,disk,paths,pytest", help="sections to run")
    args = parser.parse_args()
    missing = [tool for tool in ("unshare", "strace") if shutil.which(tool) is None]
    if missing:
        print(f"audit needs {', '.join(missing)} (Debian: apt-get install util-linux strace)")
        return 2
    work = Path(args.work or tempfile.mkdtemp(prefix="localtune-audit-", dir="/var/tmp")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    env = make_env(work)
    canaries = canary_set()
    inputs = write_inputs(work / "inputs", canaries)
    started = time.monotonic()
    print(f"localtune audit in {work}", flush=True)
    try:
        only = set(args.only.split(","))
        model_cache = check_network(env, work, inputs, canaries) if "network" in only else None
        if "gui" in only:
            check_gui(env, work, inputs, canaries, model_cache)
        if "residue" in only:
            check_residue(env, work, canaries, work / "inputs")
        if "crash" in only:
            check_crashes(env, work, args.crash_scale, model_cache)
        if "disk" in only:
            check_full_disk(env, work)
        if "paths" in only:
            check_destinations_and_headers(env, work)
        if "pytest" in only:
            check_pytest(env, work, args.fuzz, args.stateful)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    width = max(len(r[1]) for r in rows)
    print(f"\n{'section':16} {'check':{width}} result  evidence")
    for section, check, status, detail in rows:
        print(f"{section:16} {check:{width}} {status:6}  {detail[:220]}")
    failed = [r for r in rows if r[2] == "FAIL"]
    known = [r for r in rows if r[2] == "KNOWN"]
    print(f"\n{len(rows) - len(failed) - len(known)} passed, {len(failed)} failed, {len(known)} known issue(s); "
          f"{(time.monotonic() - started) / 60:.1f} min")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
