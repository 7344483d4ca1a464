"""Runs of the training server as a user runs it (its own processes; torchrun's launcher for two), shared by
test_server.py and test_fsdp.py through the session fixture `runs` (conftest.py imports it): one process, two
data-parallel processes, two FSDP processes (asked for with `accelerate launch --use_fsdp`), and two where the
default strategy (auto) chooses FSDP because the injected memory per process (--memory-gib) is too small for the
whole model."""

import json
import os
import subprocess
import sys

import pytest
from engine_helpers import CANARY, make_examples

from localtune.bundle import format as fmt
from localtune.bundle.export import TrainingBundle

PASS = "bundle passphrase 1"
# Two processes sum the same per-example gradients in another order: float32 rounding only.
LOSS_TOLERANCE = 1e-4
ROOMY_GIB = "16"  # injected, so that the plan never depends on this machine's free memory
TOO_SMALL_GIB = "0.05"  # below any plan's estimate for the tiny model (its allowance for the libraries alone)


def serve(tmp, bundle_file, model, *, procs: int, name: str, extra=(), stdin=PASS + "\n", fd: bool = False,
          accelerate=()):
    """Run the server with its own HOME, TMPDIR and working folder (all scanned by the canary test); with `fd`
    the passphrase comes through a pipe's descriptor (--passphrase-fd) and stdin stays empty; with `accelerate`
    (its flags) under `accelerate launch` instead of torchrun."""
    dirs = {k: tmp / f"{name}-{k}" for k in ("home", "tmp", "work")}
    for d in dirs.values():
        d.mkdir()
    out = dirs["work"] / "adapter.ltb"
    server = ["-m", "localtune.remote.server", str(bundle_file), "--model", str(model), "--out", str(out), "--cpu",
              *extra]
    launcher = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(procs)] if procs > 1 else []
    if accelerate:
        launcher = ["-m", "accelerate.commands.launch", "--num_processes", str(procs), "--num_machines", "1",
                    "--mixed_precision", "no", "--dynamo_backend", "no", *accelerate]
    env = {**os.environ, "HOME": str(dirs["home"]), "TMPDIR": str(dirs["tmp"]), "OMP_NUM_THREADS": "1"}
    pass_fds = ()
    if fd:
        read, write = os.pipe()
        os.write(write, stdin.encode())
        os.close(write)
        server += ["--passphrase-fd", str(read)]
        pass_fds, stdin = (read,), ""
    try:
        r = subprocess.run([sys.executable, *launcher, *server], input=stdin, capture_output=True, text=True,
                           env=env, cwd=dirs["work"], timeout=300, pass_fds=pass_fds)
    finally:
        for d in pass_fds:
            os.close(d)
    events = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    return r, events, out, dirs


@pytest.fixture(scope="session")
def runs(tmp_path_factory, tiny_model):
    tmp = tmp_path_factory.mktemp("server")
    ex = make_examples(16)  # the canary word is in some of them
    assert any(CANARY in e.messages[1]["content"] for e in ex)
    bundle = TrainingBundle(train=ex[:12], eval=ex[12:], config={"epochs": 2, "batch_size": 4, "seed": 3},
                            base_model="tiny")
    bundle_file = fmt.write(tmp / "train.ltb", bundle.seal(PASS))
    roomy = ("--memory-gib", ROOMY_GIB)
    done = {"one": serve(tmp, bundle_file, tiny_model, procs=1, name="one", fd=True, extra=roomy),
            "two": serve(tmp, bundle_file, tiny_model, procs=2, name="two", extra=roomy),
            # FSDP as an accelerate user asks for it (an accelerate config with distributed_type: FSDP says the same)
            "fsdp": serve(tmp, bundle_file, tiny_model, procs=2, name="fsdp", extra=roomy,
                          accelerate=("--use_fsdp", "--fsdp_version", "2")),
            "fsdp_auto": serve(tmp, bundle_file, tiny_model, procs=2, name="fsdp_auto",
                               extra=("--memory-gib", TOO_SMALL_GIB))}
    for r, *_ in done.values():
        assert r.returncode == 0, r.stderr[-3000:]
    return {**done, "tmp": tmp, "bundle": bundle_file}
