"""One base model in memory, several LoRA adapters on it, and analyses streamed token by token.

The three columns of a comparison share the one model: *generic* runs it with adapters disabled, *few-shot*
runs it with the most similar journal examples as earlier turns of the chat, *tuned* runs it with an adapter
enabled. Adapters arrive as bytes (safetensors) plus their PEFT config, as the vault stores them, and switching
between them changes a flag on the LoRA layers, not the weights of the base.

Generation is a plain greedy loop with a KV cache: the cancel token is checked before every forward pass, so
a stream stops within one token, and each yielded piece is text the user can already read.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from ..dataset.prompts import ASSESSMENT_PREFIX, Example, parse_completion
from ..errors import ModelError
from ..progress import CancelToken
from . import model_load_lock
from .data import render_prompt

MAX_NEW_TOKENS = 256  # an assessment and a short paragraph
CONTEXT_BUDGET = 2048  # tokens a few-shot prompt may take (SmolLM2 reads 8k; smaller keeps CPUs quick)
COLUMNS = ("generic", "few_shot", "tuned")
ANSWER_START = ASSESSMENT_PREFIX.rstrip()  # "Assessment:" -- the label's space belongs to the label's token
_UNSET = object()


@dataclass(frozen=True)
class Analysis:
    """A finished reading: the parsed assessment and analysis, and the text as generated."""

    column: str
    assessment: str  # reasonable | problematic | mixed | unclear
    text: str
    raw: str

    def to_dict(self) -> dict:
        return {"assessment": self.assessment, "text": self.text}


@dataclass(frozen=True)
class Piece:
    """Text of `column` that has just been generated."""

    column: str
    text: str


def _default_device() -> str:
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def _peft_config(config: Mapping):
    from peft import PeftConfig

    config = dict(config)
    try:
        cfg = PeftConfig.from_peft_type(**config)
    except (TypeError, ValueError, KeyError) as exc:
        raise ModelError(f"The adapter's settings cannot be read ({exc}).") from exc
    cfg.inference_mode = True
    return cfg


class Reader:
    """A base model and its tokenizer, with LoRA adapters added by name (see the module docstring).

    Thread-safe in the sense that matters here: the active adapter is model-wide state, so every forward
    pass runs under one lock with its own adapter set (toggled only when it changes); two interleaved
    streams (or threads) never see each other's adapter.
    """

    def __init__(self, model, tokenizer):
        self.base = model.eval()
        self.tokenizer = tokenizer
        self._peft = None  # the PeftModel wrapping `base`, once the first adapter arrives
        self._active: object = _UNSET  # adapter the LoRA layers are set to (None: disabled)
        self._lock = threading.RLock()
        eos = {tokenizer.eos_token_id}
        gen = getattr(model, "generation_config", None)
        extra = getattr(gen, "eos_token_id", None)
        eos.update(extra if isinstance(extra, list | tuple | set) else [extra])
        self.eos_ids = frozenset(i for i in eos if i is not None)

    @classmethod
    def load(cls, folder: str | os.PathLike, *, quantize: bool = False, device: str | None = None,
             dtype=None) -> Reader:
        """Load a safetensors model folder (no network). `quantize` loads it in 4-bit NF4 via bitsandbytes,
        as QLoRA trained it; otherwise fp32 on CPU (bf16 is slow there without AMX) and bf16/fp16 on GPUs."""
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        device = device or _default_device()
        kw: dict = {"local_files_only": True}
        if quantize:
            from transformers import BitsAndBytesConfig

            compute = dtype or (torch.bfloat16 if device == "cuda" and torch.cuda.is_bf16_supported()
                                else torch.float32)
            kw["quantization_config"] = BitsAndBytesConfig(
                load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                bnb_4bit_compute_dtype=compute)
            kw["device_map"] = {"": device}
        else:
            kw["dtype"] = dtype or (torch.float32 if device == "cpu" else
                                    torch.bfloat16 if device == "cuda" and torch.cuda.is_bf16_supported()
                                    else torch.float16)
        try:
            with model_load_lock:
                model = AutoModelForCausalLM.from_pretrained(str(folder), **kw)
            tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        except (OSError, ValueError) as exc:
            raise ModelError(f"Could not load the model in {folder}: {exc}") from exc
        if not quantize:
            model.to(device)
        return cls(model, tokenizer)

    # --- adapters -------------------------------------------------------------------------------------

    @property
    def adapters(self) -> tuple[str, ...]:
        return tuple(self._peft.peft_config) if self._peft is not None else ()

    @property
    def device(self):
        return next(self.base.parameters()).device

    def add_adapter(self, name: str, weights: bytes, config: Mapping) -> None:
        """Add a LoRA adapter from safetensors bytes (PEFT's saved state dict) and its PEFT config dict."""
        from peft import PeftModel, set_peft_model_state_dict
        from safetensors.torch import load as load_safetensors

        if name in self.adapters:
            raise ModelError(f"An adapter named {name!r} is already loaded.")
        cfg = _peft_config(config)
        try:
            state = load_safetensors(bytes(weights))
        except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types
            raise ModelError(f"The adapter {name!r} is damaged: its weights cannot be read ({exc}).") from exc
        with self._lock:
            try:
                if self._peft is None:
                    self._peft = PeftModel(self.base, cfg, adapter_name=name)
                else:
                    self._peft.add_adapter(name, cfg)
            except ValueError as exc:  # e.g. target modules this base does not have
                raise ModelError(f"The adapter {name!r} does not fit this base model ({exc}).") from exc
            try:
                result = set_peft_model_state_dict(self._peft, state, adapter_name=name)
            except RuntimeError as exc:  # shapes that do not match this base
                self.remove_adapter(name)
                raise ModelError(f"The adapter {name!r} does not fit this base model ({exc}).") from exc
            # Every LoRA weight of this adapter must have come from the bytes, and nothing else may be there.
            missing = [k for k in result.missing_keys if f".{name}." in k and "lora_" in k]
            if missing or result.unexpected_keys:
                self.remove_adapter(name)
                raise ModelError(f"The adapter {name!r} does not fit this base model "
                                 f"({len(missing)} weights missing, {len(result.unexpected_keys)} unexpected).")
            self._peft.eval()
            self._active = _UNSET

    def remove_adapter(self, name: str) -> None:
        with self._lock:
            if name not in self.adapters:
                raise ModelError(f"No adapter named {name!r} is loaded.")
            if len(self.adapters) == 1:
                # Unwrap fully: the base is then exactly the model that was loaded.
                self.base = self._peft.unload()
                self._peft = None
            else:
                self._peft.delete_adapter(name)
            self._active = _UNSET

    @contextlib.contextmanager
    def using(self, adapter: str | None):
        """The model with `adapter` active (None: the base alone), held under the lock."""
        with self._lock:
            if self._peft is None:
                if adapter is not None:
                    raise ModelError(f"No adapter named {adapter!r} is loaded.")
                yield self.base
                return
            if adapter != self._active:
                # Toggled only on a change: walking every LoRA layer per token would cost ~10% of a step.
                if adapter is None:
                    self._peft.base_model.disable_adapter_layers()
                elif adapter not in self.adapters:
                    raise ModelError(f"No adapter named {adapter!r} is loaded.")
                else:
                    self._peft.base_model.enable_adapter_layers()
                    self._peft.set_adapter(adapter, inference_mode=True)
                self._active = adapter
            yield self._peft

    def forward(self, input_ids, *, adapter: str | None = None, cache=None, logits_to_keep: int = 0):
        """One forward pass (no gradients) with `adapter` active: (logits, KV cache to continue from)."""
        import torch

        # transformers 5.x renamed `past_key_values` to `cache`; older releases know only the first.
        name = "cache" if self._new_cache_api else "past_key_values"
        with self.using(adapter) as model, torch.inference_mode():
            out = model(input_ids=input_ids.to(self.device), use_cache=True, logits_to_keep=logits_to_keep,
                        **{name: cache})
        cache = out.get("cache")  # only then the old name: asking for it warns on new releases
        return out.logits, cache if cache is not None else out.get("past_key_values")

    @functools.cached_property
    def _new_cache_api(self) -> bool:
        return "cache" in inspect.signature(type(self.base).forward).parameters

    def logits(self, ids: Sequence[int], *, adapter: str | None = None):
        """Logits at every position of one token sequence, as float32 [len, vocab]."""
        import torch

        return self.forward(torch.tensor([list(ids)]), adapter=adapter)[0][0].float()

    # --- prompts --------------------------------------------------------------------------------------

    def render(self, messages: Sequence[Mapping]) -> str:
        """The chat in the model's template, ending where the assistant answers (as training renders it)."""
        return render_prompt(self.tokenizer, Example(messages=tuple(messages), completion="", label=""))

    def encode(self, messages: Sequence[Mapping]) -> list[int]:
        return self.tokenizer(self.render(messages), add_special_tokens=False)["input_ids"]

    def few_shot_messages(self, messages: Sequence[Mapping], shots: Sequence[Example], *,
                          budget: int = CONTEXT_BUDGET) -> tuple[dict, ...]:
        """`messages` with `shots` (most similar first) as earlier user/assistant turns.

        The most similar shot goes last, next to the question; the least similar are dropped first until the
        rendered prompt fits `budget` tokens. No shot left means the plain prompt.
        """
        system = [dict(m) for m in messages if m["role"] == "system"]
        rest = [dict(m) for m in messages if m["role"] != "system"]
        shots = list(shots)
        while True:
            turns = []
            for shot in reversed(shots):
                turns += [dict(m) for m in shot.messages if m["role"] == "user"]
                turns.append({"role": "assistant", "content": shot.completion})
            chat = (*system, *turns, *rest)
            if not shots or len(self.encode(chat)) <= budget:
                return chat
            shots.pop()

    # --- generation -----------------------------------------------------------------------------------

    def token_ids(self, messages: Sequence[Mapping], *, adapter: str | None = None,
                  cancel: CancelToken | None = None, max_new_tokens: int = MAX_NEW_TOKENS) -> Iterator[int]:
        """The greedy continuation's token ids, one at a time (EOS not included)."""
        if adapter is not None and adapter not in self.adapters:
            raise ModelError(f"No adapter named {adapter!r} is loaded.")  # now, not at the first next()
        return self._token_ids(self.encode(messages), adapter, cancel, max_new_tokens)

    def _token_ids(self, ids: list[int], adapter: str | None, cancel: CancelToken | None,
                   max_new_tokens: int) -> Iterator[int]:
        import torch

        x, cache = torch.tensor([ids]), None
        for _ in range(max_new_tokens):
            if cancel is not None:
                cancel.raise_if_cancelled()
            logits, cache = self.forward(x, adapter=adapter, cache=cache, logits_to_keep=1)
            token = int(logits[0, -1].argmax())
            if token in self.eos_ids:
                return
            yield token
            x = torch.tensor([[token]])

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=True, clean_up_tokenization_spaces=False)

    def stream(self, messages: Sequence[Mapping], *, adapter: str | None = None, cancel: CancelToken | None = None,
               max_new_tokens: int = MAX_NEW_TOKENS, start: str = "") -> Iterator[str]:
        """Greedy text pieces as they are generated; raises Cancelled (between tokens) when `cancel` is set.

        `start` is put in the model's mouth: the answer begins with it (and so do the yielded pieces).
        """
        if adapter is not None and adapter not in self.adapters:
            raise ModelError(f"No adapter named {adapter!r} is loaded.")  # now, not at the first next()
        lead = self.tokenizer(start, add_special_tokens=False)["input_ids"] if start else []
        return self._pieces(self.encode(messages), lead, adapter, cancel, max_new_tokens)

    def _pieces(self, ids, lead, adapter, cancel, max_new_tokens) -> Iterator[str]:
        # Decoding the lead with the rest keeps tokenizers that drop a leading space (SentencePiece) honest.
        got = list(lead)
        shown = 0
        for token in self._token_ids(ids + got, adapter, cancel, max_new_tokens):
            got.append(token)
            text = self.decode(got)
            if text.endswith("\ufffd"):
                continue  # half of a multi-byte character: wait for the rest of it
            if len(text) > shown:
                yield text[shown:]
                shown = len(text)
        text = self.decode(got)
        if len(text) > shown:
            yield text[shown:]

    def generate(self, messages: Sequence[Mapping], **kw) -> str:
        return "".join(self.stream(messages, **kw))

    def analyze(self, messages: Sequence[Mapping], *, adapter: str | None = None, column: str = "",
                cancel: CancelToken | None = None, max_new_tokens: int = MAX_NEW_TOKENS,
                start: str = ANSWER_START) -> Analysis:
        """Generate a reading and parse it into (assessment, analysis).

        By default the answer is started with "Assessment:", so that even a model that was never tuned has
        to commit to a label first (otherwise small models often ramble and the reading is "unclear").
        """
        return _finish(column, self.stream(messages, adapter=adapter, cancel=cancel, max_new_tokens=max_new_tokens,
                                           start=start))

    def compare(self, messages: Sequence[Mapping], *, adapter: str | None = None, shots: Sequence[Example] = (),
                cancel: CancelToken | None = None, max_new_tokens: int = MAX_NEW_TOKENS,
                budget: int = CONTEXT_BUDGET, start: str = ANSWER_START) -> Iterator[Piece | Analysis]:
        """The columns one after another: generic, few-shot (when there are shots), tuned (when an adapter is
        named). Yields Piece events while a column is written and its Analysis when it is done."""
        if adapter is not None and adapter not in self.adapters:
            raise ModelError(f"No adapter named {adapter!r} is loaded.")
        columns = [("generic", messages, None)]
        if shots:
            columns.append(("few_shot", self.few_shot_messages(messages, shots, budget=budget), None))
        if adapter is not None:
            columns.append(("tuned", messages, adapter))
        return self._compare(columns, cancel, max_new_tokens, start)

    def _compare(self, columns, cancel, max_new_tokens, start) -> Iterator[Piece | Analysis]:
        for column, chat, adapter in columns:
            pieces = []
            for text in self.stream(chat, adapter=adapter, cancel=cancel, max_new_tokens=max_new_tokens,
                                    start=start):
                pieces.append(text)
                yield Piece(column, text)
            yield _finish(column, pieces)


def _finish(column: str, pieces) -> Analysis:
    raw = "".join(pieces)
    assessment, text = parse_completion(raw)
    return Analysis(column, assessment, text, raw)
