"""One base model in memory, several LoRA adapters on it, and analyses streamed token by token.

The three columns of a comparison (events.COLUMNS) share the one model: *base* runs it with adapters disabled,
*few_shot* runs it with the most similar journal examples as earlier turns of the chat, *tuned* runs it with an
adapter enabled; it yields events.Piece and events.Analysis. Adapters arrive as bytes (safetensors) plus their PEFT config, as the vault stores them, and switching
between them changes a flag on the LoRA layers, not the weights of the base.

Generation is a loop with a KV cache, one token per forward pass, that shapes the next-token scores with
transformers' own logits processors (repetition penalty, no repeated n-grams, optional temperature/top-p with a
fixed seed) and ends with its stopping criteria (end of turn, a blank line after the paragraph, a length
calibrated from the journal's own analyses). The cancel token is checked before every forward pass, so a
stream stops within one token, and each yielded piece is text the user can already read.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import math
import os
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace

from ..dataset.prompts import ASSESSMENT_PREFIX, LABELS, Example, parse_completion
from ..dataset.reading_quality import disagreement, judged_assessment, repetition
from ..errors import ModelError
from ..events import Analysis, Piece
from ..progress import CancelToken
from .data import end_of_turn_id, render_prompt

MAX_NEW_TOKENS = 256  # the hard cap: an assessment and a short paragraph fit well within it
MIN_SHARE = 0.5  # of the journal's 10th-percentile answer length: the shortest reading (see Reader.lengths)
CONTEXT_BUDGET = 2048  # tokens a few-shot prompt may take (SmolLM2 reads 8k; smaller keeps CPUs quick)
ANSWER_START = ASSESSMENT_PREFIX.rstrip()  # "Assessment:" -- the label's space belongs to the label's token
_UNSET = object()


@dataclass(frozen=True)
class Decoding:
    """How a reading is decoded. The defaults were picked by measurement on the starter model and the demo journal
    (benchmarks/reading_quality.py); `GREEDY` is plain greedy decoding with nothing but the end of turn."""

    repetition_penalty: float = 1.15  # > 1 makes tokens already in the answer less likely (1: off)
    no_repeat_ngram: int = 4  # no phrase of this many tokens twice in one answer (0: off)
    temperature: float = 0.0  # 0: greedy (the most likely token); > 0 samples, reproducibly from `seed`
    top_p: float = 1.0  # when sampling, only from the most likely tokens that make up this much probability
    seed: int = 0
    max_new_tokens: int = MAX_NEW_TOKENS  # the hard cap; a reading stopped by it says so
    paragraph_end: bool = True  # stop at a blank line once the paragraph has begun
    target_tokens: int = 0  # the journal's own analysis length: once reached, stop at the next sentence end (0: off)
    min_tokens: int = 0  # the shortest reading: before it, neither the end of turn nor a blank line ends it (0: off)

    def __post_init__(self):
        problems = []
        if not 1.0 <= self.repetition_penalty <= 3.0:
            problems.append("the repetition penalty must be between 1 (off) and 3")
        if not 0 <= self.no_repeat_ngram <= 16:
            problems.append("the no-repeat phrase length must be between 0 (off) and 16 tokens")
        if not 0.0 <= self.temperature <= 5.0:
            problems.append("the temperature must be between 0 (greedy) and 5")
        if not 0.0 < self.top_p <= 1.0:
            problems.append("top-p must be above 0 and at most 1")
        if not 1 <= self.max_new_tokens <= 4096:
            problems.append("the length limit must be between 1 and 4096 tokens")
        if self.target_tokens < 0 or self.min_tokens < 0:
            problems.append("the target and shortest lengths cannot be negative")
        if problems:
            raise ModelError("Decoding settings: " + "; ".join(problems) + ".")

    @property
    def sampling(self) -> bool:
        return self.temperature > 0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping | None) -> Decoding:
        """From stored settings; unknown keys (from another version) are ignored."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in dict(values or {}).items() if k in known})

    def processors(self):
        """transformers' logits processors for these settings, in the order `generate` applies them."""
        from transformers import (
            LogitsProcessorList,
            NoRepeatNGramLogitsProcessor,
            RepetitionPenaltyLogitsProcessor,
            TemperatureLogitsWarper,
            TopPLogitsWarper,
        )

        out = LogitsProcessorList()
        if self.repetition_penalty != 1.0:
            out.append(RepetitionPenaltyLogitsProcessor(self.repetition_penalty))
        if self.no_repeat_ngram:
            out.append(NoRepeatNGramLogitsProcessor(self.no_repeat_ngram))
        if self.sampling:
            if self.temperature != 1.0:
                out.append(TemperatureLogitsWarper(self.temperature))
            if self.top_p < 1.0:
                out.append(TopPLogitsWarper(self.top_p))
        return out


GREEDY = Decoding(repetition_penalty=1.0, no_repeat_ngram=0, paragraph_end=False)


def _stopping(tokenizer, decoding: Decoding) -> list[tuple[str, object]]:
    """(reason, transformers StoppingCriteria) pairs checked after every token; each sees the answer so far."""
    from transformers import StoppingCriteria

    def text_of(input_ids) -> str:
        return tokenizer.decode(input_ids[0].tolist(), skip_special_tokens=True)

    class ParagraphEnd(StoppingCriteria):
        """A blank line after the paragraph (the assessment line alone does not count), or a second
        "Assessment:" line: one reading is one paragraph, as in the journal. Not before `min_tokens`."""

        def __call__(self, input_ids, scores, **kwargs):
            if input_ids.shape[-1] < decoding.min_tokens:
                return _flag(input_ids, False)
            body = _ASSESSMENT_LINE.sub("", text_of(input_ids), count=1).lstrip()
            done = bool(body) and ("\n\n" in body or "\nassessment:" in body.lower())
            return _flag(input_ids, done)

    class SentenceEndAfter(StoppingCriteria):
        """At least `length` tokens, and the text ends a sentence."""

        def __init__(self, length: int):
            self.length = length

        def __call__(self, input_ids, scores, **kwargs):
            done = input_ids.shape[-1] >= self.length and _ends_sentence(text_of(input_ids))
            return _flag(input_ids, done)

    out: list[tuple[str, object]] = []
    if decoding.paragraph_end:
        out.append(("paragraph", ParagraphEnd()))
    if decoding.target_tokens:
        out.append(("length", SentenceEndAfter(decoding.target_tokens)))
    return out


_ASSESSMENT_LINE = re.compile(r"^\s*assessment\s*:\s*\**\s*[a-z]*[\s.*:]*", re.IGNORECASE)


def _flag(input_ids, done: bool):
    import torch

    return torch.full((input_ids.shape[0],), done, dtype=torch.bool)


def _ends_sentence(text: str) -> bool:
    stripped = text.rstrip(" \"')\u201d\u2019")
    return stripped.endswith((".", "!", "?")) and not stripped.endswith("..")


def calibrated_length(token_counts: Sequence[int], *, quantile: float = 0.9, cap: int = MAX_NEW_TOKENS) -> int:
    """The target length of a reading from the lengths (in tokens) of the journal's own answers: their 90th
    percentile, so most readings end with a sentence near where the journal's analyses end; 0 without any."""
    counts = sorted(c for c in token_counts if c > 0)
    if not counts:
        return 0
    return min(cap, counts[min(len(counts) - 1, int(quantile * len(counts)))])


def probabilities(scores: Mapping[str, float]) -> dict[str, float]:
    """Softmax of summed log-probabilities over the labels: how likely each label is, relative to the others."""
    top = max(scores.values())
    weights = {k: math.exp(v - top) for k, v in scores.items()}
    total = sum(weights.values())
    return {k: w / total for k, w in weights.items()}


def _default_device() -> str:
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


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
        eos.add(end_of_turn_id(tokenizer))  # what training taught a tuned model to end its answer with
        self.eos_ids = frozenset(i for i in eos if i is not None)

    @classmethod
    def load(cls, folder: str | os.PathLike, *, quantize: bool = False, device: str | None = None,
             dtype=None) -> Reader:
        """Load a safetensors model folder (no network) with the one base-model loader (adapters.load_base).
        `quantize` loads it in 4-bit NF4 via bitsandbytes, as QLoRA trained it; otherwise fp32 on CPU and
        bf16/fp16 on GPUs."""
        from transformers import AutoTokenizer

        from .adapters import load_base

        model = load_base(folder, quantize="nf4" if quantize else "none", device=device or _default_device(),
                          dtype=dtype)
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        except (OSError, ValueError) as exc:
            raise ModelError(f"Could not load the tokenizer in {folder}: {exc}") from exc
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
        from .adapters import attach

        if name in self.adapters:
            raise ModelError(f"An adapter named {name!r} is already loaded.")
        with self._lock:
            self._peft = attach(self._peft if self._peft is not None else self.base, weights, config, name)
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

    # --- label likelihood ------------------------------------------------------------------------------

    def label_scores(self, messages: Sequence[Mapping], *, adapter: str | None = None,
                     labels: Sequence[str] = LABELS) -> dict[str, float]:
        """Sum of token log-probs of each label's completion (`Assessment: <label>`) after the prompt.

        The completions share their start ("Assessment:"), so the prompt and that shared start run once; only
        the differing tails run again, as one small batch on the cache.
        """
        import torch

        # Tokenized apart from the prompt, as training tokenizes the completion, so the boundary is the same.
        conts = [self.tokenizer(f"{ASSESSMENT_PREFIX}{label}", add_special_tokens=False)["input_ids"]
                 for label in labels]
        shared = 0
        while all(len(c) > shared for c in conts) and len({c[shared] for c in conts}) == 1:
            shared += 1
        head = self.encode(messages) + conts[0][:shared]
        logits, cache = self.forward(torch.tensor([head]), adapter=adapter, logits_to_keep=shared + 1)
        logp = logits[0].float().log_softmax(-1)  # positions predicting the shared tokens, then the next one
        base_score = sum(float(logp[i, conts[0][i]]) for i in range(shared))
        tails = [c[shared:] for c in conts]
        scores = [base_score + (float(logp[shared, t[0]]) if t else 0.0) for t in tails]
        width = max(len(t) for t in tails) - 1
        if width > 0:
            pad = self.tokenizer.pad_token_id or 0
            # Right padding needs no mask: a causal model never lets a real token see the padding after it.
            batch = torch.tensor([(t[:-1] + [pad] * width)[:width] if t else [pad] * width for t in tails])
            cache.batch_repeat_interleave(len(tails))
            more = self.forward(batch, adapter=adapter, cache=cache)[0].float().log_softmax(-1)
            for row, t in enumerate(tails):
                scores[row] += sum(float(more[row, j - 1, t[j]]) for j in range(1, len(t)))
        return dict(zip(labels, scores, strict=True))

    def label_scores_many(self, chats: Sequence[Sequence[Mapping]], *, adapter: str | None = None,
                          labels: Sequence[str] = LABELS) -> list[dict[str, float]]:
        """`label_scores` of several prompts with one forward pass: the batch's common token prefix (the
        system prompt) runs once and its cache is shared; the rest is right-padded, which needs no mask (a
        causal model never lets a real token see the padding after it), and the vocabulary projection runs
        only at the positions that predict the label tokens. Labels that differ after more than one token
        are scored prompt by prompt (`label_scores`)."""
        import torch

        conts = [self.tokenizer(f"{ASSESSMENT_PREFIX}{label}", add_special_tokens=False)["input_ids"]
                 for label in labels]
        shared = 0
        while all(len(c) > shared for c in conts) and len({c[shared] for c in conts}) == 1:
            shared += 1
        if len(chats) == 1 or any(len(c) != shared + 1 for c in conts):
            return [self.label_scores(chat, adapter=adapter, labels=labels) for chat in chats]
        heads = [self.encode(chat) + conts[0][:shared] for chat in chats]
        # Keep at least shared + 1 tokens of every row out of the common part: their logits are the scores.
        common = min(len(os.path.commonprefix(heads)), min(map(len, heads)) - shared - 1)
        cache = None
        if common > 0:
            cache = self.forward(torch.tensor([heads[0][:common]]), adapter=adapter, logits_to_keep=1)[1]
            cache.batch_repeat_interleave(len(heads))
        rest = [h[common:] for h in heads]
        width = max(map(len, rest))
        pad = self.tokenizer.pad_token_id or 0
        batch = torch.tensor([r + [pad] * (width - len(r)) for r in rest])
        # Row i needs the positions len(rest[i]) - shared - 1 ..: they predict "Assessment:" and the label.
        wanted = sorted({len(r) - shared - 1 + j for r in rest for j in range(shared + 1)})
        where = {p: k for k, p in enumerate(wanted)}
        logits = self.forward(batch, adapter=adapter, cache=cache, logits_to_keep=torch.tensor(wanted))[0]
        logp = logits.float().log_softmax(-1)
        out = []
        for row, r in enumerate(rest):
            first = len(r) - shared - 1
            base_score = sum(float(logp[row, where[first + j], conts[0][j]]) for j in range(shared))
            last = where[first + shared]
            out.append({label: base_score + float(logp[row, last, c[shared]])
                        for label, c in zip(labels, conts, strict=True)})
        return out

    def answer_length(self, completions: Sequence[str], *, quantile: float = 0.9) -> int:
        """The reading length calibrated from the journal's own answers (see `calibrated_length`), in tokens."""
        return calibrated_length([len(self.tokenizer(c, add_special_tokens=False)["input_ids"])
                                  for c in completions], quantile=quantile)

    def lengths(self, completions: Sequence[str]) -> dict[str, int]:
        """`target_tokens` and `min_tokens` from the journal's own answers: a reading aims for their 90th
        percentile and is not ended before MIN_SHARE of their 10th (the starter otherwise often stops after
        one restating sentence)."""
        return {"target_tokens": self.answer_length(completions),
                "min_tokens": int(MIN_SHARE * self.answer_length(completions, quantile=0.1))}

    # --- generation -----------------------------------------------------------------------------------

    def token_ids(self, messages: Sequence[Mapping], *, adapter: str | None = None,
                  cancel: CancelToken | None = None, max_new_tokens: int = MAX_NEW_TOKENS,
                  decoding: Decoding = GREEDY) -> Iterator[int]:
        """The continuation's token ids, one at a time (EOS not included); plain greedy by default."""
        if adapter is not None and adapter not in self.adapters:
            raise ModelError(f"No adapter named {adapter!r} is loaded.")  # now, not at the first next()
        decoding = replace(decoding, max_new_tokens=max_new_tokens)
        return self._token_ids(self.encode(messages), [], adapter, cancel, decoding, _Stopped())

    def _token_ids(self, ids: list[int], lead: list[int], adapter: str | None, cancel: CancelToken | None,
                   decoding: Decoding, stopped: _Stopped) -> Iterator[int]:
        """Generated ids after `ids + lead`; `stopped.reason` says why it ended. The processors and stopping
        criteria see the answer only (lead and generated tokens): the prompt's words are the situation's, and
        penalising them would push the answer away from the situation and the few-shot examples' labels."""
        import torch

        processors = decoding.processors()
        if decoding.min_tokens > len(lead):
            from transformers import MinNewTokensLengthLogitsProcessor

            # The answer (lead included) is what the processors see; the end of turn waits for min_tokens of it.
            processors.insert(0, MinNewTokensLengthLogitsProcessor(
                len(lead), decoding.min_tokens - len(lead), sorted(self.eos_ids)))
        criteria = _stopping(self.tokenizer, decoding)
        rng = torch.Generator().manual_seed(decoding.seed) if decoding.sampling else None
        answer = torch.tensor([lead], dtype=torch.long)
        x, cache = torch.tensor([ids + lead]), None
        for _ in range(decoding.max_new_tokens):
            if cancel is not None:
                cancel.raise_if_cancelled()
            logits, cache = self.forward(x, adapter=adapter, cache=cache, logits_to_keep=1)
            scores = processors(answer, logits[:, -1].float().cpu())
            if rng is not None:
                token = int(torch.multinomial(scores.softmax(-1), 1, generator=rng)[0, 0])
            else:
                token = int(scores[0].argmax())
            if token in self.eos_ids:
                stopped.reason = "end_of_turn"
                return
            yield token
            answer = torch.cat([answer, torch.tensor([[token]])], dim=1)
            for reason, criterion in criteria:
                if bool(criterion(answer, scores)[0]):
                    stopped.reason = reason
                    return
            x = torch.tensor([[token]])
        stopped.reason = "cap"

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=True, clean_up_tokenization_spaces=False)

    def stream(self, messages: Sequence[Mapping], *, adapter: str | None = None, cancel: CancelToken | None = None,
               max_new_tokens: int | None = None, start: str = "", decoding: Decoding = GREEDY,
               stopped: _Stopped | None = None) -> Iterator[str]:
        """Text pieces as they are generated; raises Cancelled (between tokens) when `cancel` is set.

        `start` is put in the model's mouth: the answer begins with it (and so do the yielded pieces). When the
        stream ends, `stopped.reason` (pass a `_Stopped`) says why. Plain greedy unless `decoding` says otherwise.
        """
        if adapter is not None and adapter not in self.adapters:
            raise ModelError(f"No adapter named {adapter!r} is loaded.")  # now, not at the first next()
        if max_new_tokens is not None:
            decoding = replace(decoding, max_new_tokens=max_new_tokens)
        lead = self.tokenizer(start, add_special_tokens=False)["input_ids"] if start else []
        return self._pieces(self.encode(messages), lead, adapter, cancel, decoding, stopped or _Stopped())

    def _pieces(self, ids, lead, adapter, cancel, decoding, stopped) -> Iterator[str]:
        # Decoding the lead with the rest keeps tokenizers that drop a leading space (SentencePiece) honest.
        got = list(lead)
        shown = 0
        for token in self._token_ids(ids, lead, adapter, cancel, decoding, stopped):
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
                cancel: CancelToken | None = None, decoding: Decoding | None = None,
                start: str = ANSWER_START, labels: Sequence[str] | None = None) -> Analysis:
        """Generate a reading and parse it into (assessment, analysis).

        By default the answer is started with "Assessment:", so that even a model that was never tuned has
        to commit to a label first (otherwise small models often ramble and the reading is "unclear"). With
        `labels`, the badge is the most likely of them by label likelihood, and their probabilities come along.
        """
        decoding = decoding or Decoding()
        scores = self.label_scores(messages, adapter=adapter, labels=labels) if labels else None
        stopped = _Stopped()
        pieces = self.stream(messages, adapter=adapter, cancel=cancel, decoding=decoding, start=start,
                             stopped=stopped)
        return _finish(column, list(pieces), stopped.reason, scores, decoding)

    def compare(self, messages: Sequence[Mapping], *, adapter: str | None = None, shots: Sequence[Example] = (),
                cancel: CancelToken | None = None, decoding: Decoding | None = None,
                budget: int = CONTEXT_BUDGET, start: str = ANSWER_START,
                labels: Sequence[str] | None = LABELS) -> Iterator[Piece | Analysis]:
        """The columns one after another: base, few-shot (when there are shots), tuned (when an adapter is
        named). Yields Piece events while a column is written and its Analysis when it is done; each column's
        badge is its most likely label among `labels` (None: the label its text states)."""
        if adapter is not None and adapter not in self.adapters:
            raise ModelError(f"No adapter named {adapter!r} is loaded.")
        columns = [("base", messages, None)]
        if shots:
            columns.append(("few_shot", self.few_shot_messages(messages, shots, budget=budget), None))
        if adapter is not None:
            columns.append(("tuned", messages, adapter))
        return self._compare(columns, cancel, decoding or Decoding(), start, labels)

    def _compare(self, columns, cancel, decoding, start, labels) -> Iterator[Piece | Analysis]:
        for column, chat, adapter in columns:
            scores = self.label_scores(chat, adapter=adapter, labels=labels) if labels else None
            pieces, stopped = [], _Stopped()
            for text in self.stream(chat, adapter=adapter, cancel=cancel, decoding=decoding, start=start,
                                    stopped=stopped):
                pieces.append(text)
                yield Piece(column, text)
            yield _finish(column, pieces, stopped.reason, scores, decoding)


class _Stopped:
    """Why a stream ended: end_of_turn | paragraph | length | cap (set when it ends)."""

    reason = "cap"


_ECHO = re.compile(r"(?:[\s,/]*(?:or|and)?\s*(?:" + "|".join(LABELS) + r")\b)+[\s.?!]*", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<!\.)[.!?][\"')\u201d\u2019]*(?=\s+[A-Z\"\u201c(]|\s*$)")
_LABEL_LINE = re.compile(r"^\W*assessment\W*:\W*(?:(" + "|".join(LABELS) + r")\b)?[\s.*:,;\u2013\u2014-]*",
                         re.IGNORECASE)


def _split(raw: str) -> tuple[str, str]:
    """(stated assessment, analysis) of a generated answer, as `parse_completion` reads it, except that an
    analysis beginning on the assessment's own line ("Assessment: reasonable. The lead asked early ..." or
    "Assessment: The lead ...") is kept: small models often answer on one line, and the reading was empty."""
    stated, text = parse_completion(raw)
    head, _, rest = raw.strip().partition("\n")
    line = _LABEL_LINE.match(head)
    if line:
        if stated == "unclear" and line.group(1):
            stated = line.group(1).lower()
        first = head[line.end():].strip()
        if _ECHO.fullmatch(first):  # "Assessment: reasonable, problematic or mixed." repeats the question
            stated, first = "unclear", ""
        text = "\n".join(part for part in (first, rest.strip()) if part)
    return stated, text


def _whole_sentences(text: str) -> str:
    """`text` up to its last sentence end: a reading that stopped mid-sentence (the model ended its turn or
    began a new paragraph there) ends with its last whole sentence; unchanged when it has none."""
    if not text or _ends_sentence(text):
        return text
    ends = [m.end() for m in _SENTENCE_END.finditer(text)]
    return text[:ends[-1]].rstrip() if ends else text


def _finish(column: str, pieces, stop: str = "end_of_turn", scores: Mapping[str, float] | None = None,
            decoding: Decoding | None = None) -> Analysis:
    raw = "".join(pieces)
    stated, text = _split(raw)
    notes = []
    if stop != "cap" and text and not _ends_sentence(text):
        whole = _whole_sentences(text)
        if whole == text:
            notes.append("The reading stopped mid-sentence.")
        text = whole
    if stated == "unclear":  # no "Assessment:" line: what the prose judges ("not reasonable" is problematic)
        stated = judged_assessment(text) or "unclear"
    repeats = repetition(text)
    if repeats:
        notes.append(repeats)
    if stop == "cap":
        cap = (decoding or Decoding()).max_new_tokens
        notes.append(f"Cut off at the length limit ({cap} tokens): the reading did not finish.")
    probs = probabilities(scores) if scores else {}
    badge = max(probs, key=probs.__getitem__) if probs else stated
    if probs and stated != "unclear" and stated != badge:
        notes.append(f"The text says \u201c{stated}\u201d, but by likelihood the model finds \u201c{badge}\u201d "
                     f"more likely ({probs[badge]:.0%} vs {probs.get(stated, 0.0):.0%}).")
    elif probs and (judged := disagreement(text, badge)):
        notes.append(judged)  # the line agrees with the badge, the prose does not ("this is not reasonable")
    return Analysis(column, badge, text, raw, stop, probs, stated, tuple(notes), bool(repeats))
