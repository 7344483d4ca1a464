"""The training bundle: what a remote trainer needs, sealed — the redacted examples after the split, the run
configuration and the base model's name. Built from exactly what local training uses (`training.check`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from ..dataset.examples import examples_fingerprint as fingerprint  # remote/ddp.py records it too
from ..dataset.prompts import Example
from ..errors import InvalidInputError
from . import format as fmt

EXAMPLE_FIELDS = tuple(f.name for f in fields(Example))


def example_dict(example: Example) -> dict:
    return {"messages": [dict(m) for m in example.messages], "completion": example.completion,
            "label": example.label, "viewpoint": example.viewpoint, "industry": example.industry,
            "group": example.group}


def example_of(data: dict) -> Example:
    try:
        return Example(messages=tuple(dict(m) for m in data["messages"]), completion=str(data["completion"]),
                       label=str(data["label"]), viewpoint=str(data.get("viewpoint", "")),
                       industry=str(data.get("industry", "")), group=str(data.get("group", "")))
    except (KeyError, TypeError) as exc:
        raise fmt.BundleDamaged(f"The bundle holds an example localtune cannot read ({exc}).") from None


@dataclass(frozen=True)
class TrainingBundle:
    """An opened training bundle: examples in memory only."""

    train: list[Example] = field(repr=False)
    eval: list[Example] = field(repr=False)
    config: dict
    base_model: str
    contributors: int = 1

    def manifest(self) -> dict:
        """Public facts only: counts, label balance, fingerprints, the base model's name."""
        return {"kind": fmt.KIND_TRAINING, "base_model": self.base_model,
                "counts": {"train": len(self.train), "eval": len(self.eval)},
                "labels": dict(sorted(Counter(e.label for e in self.train + self.eval).items())),
                "fingerprints": {"train": fingerprint(self.train), "eval": fingerprint(self.eval)},
                "contributors": self.contributors}

    def payload(self) -> bytes:
        return fmt.pack({"kind": fmt.KIND_TRAINING, "base_model": self.base_model, "config": self.config,
                         "contributors": self.contributors,
                         "train": [example_dict(e) for e in self.train],
                         "eval": [example_dict(e) for e in self.eval]})

    def seal(self, passphrase: str) -> bytes:
        return fmt.seal(self.payload(), passphrase, self.manifest())


def from_opened(opened: fmt.Opened, *, source: str = "the bundle") -> TrainingBundle:
    if opened.manifest.get("kind") != fmt.KIND_TRAINING:
        raise InvalidInputError(f"{source} is an {opened.manifest.get('kind')} bundle, not a training bundle.")
    doc, _ = fmt.unpack(opened.payload)
    bundle = TrainingBundle(train=[example_of(d) for d in doc["train"]], eval=[example_of(d) for d in doc["eval"]],
                            config=dict(doc.get("config", {})), base_model=str(doc["base_model"]),
                            contributors=int(doc.get("contributors", 1)))
    if bundle.manifest()["fingerprints"] != opened.manifest.get("fingerprints"):
        raise fmt.BundleDamaged(f"{source} does not hold the examples its manifest describes.")
    return bundle


def open_training(path: str | Path, passphrase) -> TrainingBundle:
    return from_opened(fmt.read_file(path, passphrase), source=Path(path).name)


def build(vault, journal, *, model: str | None = None, config=None) -> TrainingBundle:
    """The journal's training bundle: the readiness check's split (redacted as for local training)."""
    from ..services.training import check

    report = check(journal)
    report.raise_if_not_ready()
    config_dict = asdict(config) if config is not None else {}
    if isinstance(config_dict.get("target_modules"), tuple):
        config_dict["target_modules"] = list(config_dict["target_modules"])
    return TrainingBundle(train=list(report.train), eval=list(report.eval), config=config_dict,
                          base_model=model or "starter")


def export(vault, journal, dest: str, passphrase: str, *, model: str | None = None, config=None,
           overwrite: bool = False) -> tuple[Path, dict]:
    """Seal the journal's training bundle into `dest` (checked like every file localtune writes, written
    complete or not at all). Returns the path and the manifest."""
    from ..services.journal import check_new_passphrase

    check_new_passphrase(passphrase)
    from ..vault.files import check_destination

    check_destination(dest, what="bundle", ours=fmt.is_bundle, paths=vault.paths, overwrite=overwrite)
    bundle = build(vault, journal, model=model, config=config)
    target = fmt.write(dest, bundle.seal(passphrase), paths=vault.paths, overwrite=overwrite)
    return target, bundle.manifest()
