"""localtune-train-server: train a sealed training bundle on a GPU box (or several processes of a CPU), headless.

    accelerate launch --num_processes 2 -m localtune.remote.server BUNDLE --model DIR --out ADAPTER_BUNDLE
    torchrun --nproc_per_node 8 -m localtune.remote.server BUNDLE --model DIR --out ADAPTER_BUNDLE
    localtune-train-server BUNDLE --model DIR --out ADAPTER_BUNDLE          # one process

The launcher starts one process per device and sets RANK / WORLD_SIZE / LOCAL_RANK; the processes form a
torch.distributed group (NCCL on GPUs, gloo on CPUs) and train data-parallel: each optimizer step's batch is
shared out, every process runs our own trainer's step (length-grouped batches, no attention mask, the LM head
only on completion tokens, micro-batches sized from memory) on its share, and the LoRA gradients are summed
across processes before clipping and the AdamW step, so the loss curve is the one process' curve, up to the
order of float additions. `--strategy` (remote/fsdp.py): ddp keeps the whole model in every process (one
all-reduce of the LoRA gradients); fsdp shards the transformer blocks across the processes with torch's FSDP2;
auto picks ddp when the plan says the model and its training state fit one device, else fsdp.

Privacy: rank 0 reads the passphrase (stdin, no echo on a terminal, or --passphrase-fd N), checks it, and
sends the 32-byte key to the other processes; each decrypts the bundle into memory. TMPDIR, the Hugging Face
caches and torch's compile caches point at a folder that does not exist, so nothing a library writes there can
land on disk; the result leaves as a sealed adapter bundle. Progress is JSON lines on stdout from rank 0 only,
with numbers and never an example's text. No Qt is imported here.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import tempfile

NOWHERE = "/nonexistent/localtune-train-server"  # never created: a library that tries to write there fails


def _seal_environment() -> None:
    """Before torch or any Hugging Face import: offline, no telemetry, no caches or temporary files on disk."""
    from .. import privacy

    privacy.harden()
    for var in ("TMPDIR", "TEMP", "TMP", "HF_HOME", "HF_DATASETS_CACHE", "TRANSFORMERS_CACHE",
                "TORCHINDUCTOR_CACHE_DIR", "TRITON_CACHE_DIR", "PYTORCH_KERNEL_CACHE_PATH", "XDG_CACHE_HOME"):
        os.environ[var] = NOWHERE
    os.environ["TORCHINDUCTOR_FX_GRAPH_CACHE"] = "0"
    tempfile.tempdir = NOWHERE  # Python's own temporary files: an error, not a file under /tmp
    local = os.environ.get("LOCAL_RANK")
    if local is not None and "LOCAL_WORLD_SIZE" in os.environ:
        # One GPU per process, seen as cuda:0: the loaders place models on device 0.
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        devices = visible.split(",") if visible else [str(i) for i in range(int(os.environ["LOCAL_WORLD_SIZE"]))]
        if int(local) < len(devices):
            os.environ["CUDA_VISIBLE_DEVICES"] = devices[int(local)]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="localtune-train-server", description=__doc__.splitlines()[0])
    p.add_argument("bundle", help="the sealed training bundle (localtune-cli bundle export)")
    p.add_argument("--model", required=True, metavar="DIR", help="the base model's Hugging Face folder")
    p.add_argument("--out", required=True, metavar="FILE", help="where to write the sealed adapter bundle")
    p.add_argument("--passphrase-fd", type=int, metavar="N",
                   help="read the passphrase(s) from this file descriptor instead of stdin")
    p.add_argument("--new-passphrase", action="store_true",
                   help="seal the adapter with a second passphrase (read after the first) instead of the bundle's")
    p.add_argument("--cpu", action="store_true", help="train on the CPU even where a GPU is present")
    p.add_argument("--epochs", type=int)
    p.add_argument("--max-steps", type=int)
    p.add_argument("--quantization", choices=("auto", "nf4", "none"),
                   help="nf4: 4-bit base (QLoRA; an 8B model fits a 24 GB GPU); default: the bundle's, else auto")
    p.add_argument("--bf16", choices=("on", "off"), help="bf16 autocast (default: on a GPU that supports it)")
    p.add_argument("--memory-gib", type=float,
                   help="memory the plan may assume per process (default: measured)")
    p.add_argument("--strategy", choices=("auto", "ddp", "fsdp"),
                   help="ddp: each process holds the whole model; fsdp: the transformer blocks are sharded across "
                        "the processes (LoRA on an unquantized base); auto: ddp when the model and its training "
                        "state fit one device's memory, else fsdp. Default: fsdp under `accelerate launch "
                        "--use_fsdp` (or an accelerate config with distributed_type: FSDP), else auto")
    return p


class _Emitter:
    def __init__(self, rank: int):
        self.rank = rank

    def __call__(self, event: str, **fields) -> None:
        if self.rank == 0:
            print(json.dumps({"event": event, **fields}, ensure_ascii=False), flush=True)


def _read_secret(prompt: str, fd: int | None, stream_cache: dict) -> str:
    from ..errors import InvalidInputError

    if fd is not None:
        stream = stream_cache.get(fd)
        if stream is None:
            stream = stream_cache[fd] = os.fdopen(fd, "r", encoding="utf-8", closefd=False)
        line = stream.readline()
    elif sys.stdin.isatty():
        return getpass.getpass(prompt)
    else:
        line = sys.stdin.readline()
    if not line:
        raise InvalidInputError(f"Expected a line for: {prompt.strip().rstrip(':')}")
    return line.rstrip("\r\n")


def main(argv: list[str] | None = None) -> int:
    _seal_environment()
    from ..errors import LocaltuneError

    args = build_parser().parse_args(argv)
    rank = int(os.environ.get("RANK", "0"))
    emit = _Emitter(rank)
    try:
        run(args, emit)
        return 0
    except LocaltuneError as exc:
        emit("error", message=str(exc))
        print(f"localtune-train-server: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        _close_group()


def _close_group() -> None:
    if "torch" in sys.modules:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()


def run(args, emit) -> None:
    from ..bundle import format as fmt
    from ..errors import InvalidInputError, LocaltuneError

    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    out = os.path.abspath(os.path.expanduser(args.out))
    if not os.path.isdir(os.path.dirname(out)) or os.path.isdir(out):
        raise InvalidInputError(f"{args.out}: give the adapter a file name in an existing folder.")
    data = fmt.read_bytes(args.bundle)
    manifest = fmt.read_manifest(data, source=os.path.basename(args.bundle))
    if manifest.get("kind") != fmt.KIND_TRAINING:
        raise InvalidInputError(f"{args.bundle} is not a training bundle.")

    import torch
    import torch.distributed as dist

    from ..engine import load_libraries

    load_libraries()
    # `accelerate launch --cpu` says so in ACCELERATE_USE_CPU (and starts one process: see docs/remote-training.md)
    forced_cpu = args.cpu or os.environ.get("ACCELERATE_USE_CPU", "").lower() in ("1", "true", "yes")
    use_cuda = torch.cuda.is_available() and not forced_cpu
    if world > 1:
        dist.init_process_group("nccl" if use_cuda else "gloo")
    # Rank 0 asks for the passphrase and checks it; the others get the key (or the news that it failed).
    secrets_in: dict = {}
    key, out_pass, problem, error = b"", "", "", None
    if rank == 0:
        try:
            passphrase = _read_secret("Bundle passphrase: ", args.passphrase_fd, secrets_in)
            key = fmt.derive_key(data, passphrase, source=os.path.basename(args.bundle))
            out_pass = _read_secret("Passphrase for the adapter: ", args.passphrase_fd, secrets_in) \
                if args.new_passphrase else passphrase
            if len(out_pass) < 8:
                raise InvalidInputError("Choose a passphrase of at least 8 characters for the adapter.")
        except LocaltuneError as exc:
            problem = str(exc) or type(exc).__name__
            error = exc
    if world > 1:
        box = [key, problem]
        dist.broadcast_object_list(box, src=0, device=torch.device("cuda", 0) if use_cuda else None)
        key, problem = box
    if problem:
        if rank == 0:
            raise error
        raise InvalidInputError(problem)
    from ..bundle.export import from_opened

    bundle = from_opened(fmt.open_bytes(data, key=key, source=os.path.basename(args.bundle)))
    del data
    emit("status", message=f"opened the bundle: {len(bundle.train)} training and {len(bundle.eval)} held-out "
         f"examples for {bundle.base_model}; {world} process(es)")
    from .ddp import train_distributed

    result = train_distributed(bundle, args, emit, rank=rank, world=world, use_cuda=use_cuda)
    if rank == 0:
        from ..bundle.importing import seal_adapter

        adapter, meta = result
        target = fmt.write_plain(args.out, seal_adapter(adapter, meta, out_pass))
        emit("sealed", path=str(target), bytes=os.path.getsize(target), **meta["metrics"])
    if world > 1:
        dist.barrier()


if __name__ == "__main__":
    sys.exit(main())
