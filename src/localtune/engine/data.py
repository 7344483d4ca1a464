"""Examples -> token ids in memory: prompt masked, length-grouped batches, no files, no `datasets`."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from ..dataset.prompts import Example

IGNORE = -100  # label of a token the loss skips (the prompt; padding)


@dataclass(frozen=True)
class Tokenized:
    ids: tuple[int, ...]
    prompt_len: int  # the first prompt_len tokens are the prompt: masked out of the loss

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def labels(self) -> list[int]:
        return [IGNORE] * self.prompt_len + list(self.ids[self.prompt_len:])


def render_prompt(tokenizer, example: Example) -> str:
    """The prompt in the model's own chat template, ending where the assistant's answer starts."""
    messages = [dict(m) for m in example.messages]
    if getattr(tokenizer, "chat_template", None):
        try:
            return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        except Exception:  # noqa: BLE001 - templates raise their own errors: Gemma's refuses a system role
            if not any(m["role"] == "system" for m in messages):
                raise
        return tokenizer.apply_chat_template(without_system(messages), tokenize=False, add_generation_prompt=True)
    # A base model without a chat template: a plain transcript.
    return "".join(f"{m['role'].capitalize()}: {m['content']}\n\n" for m in messages) + "Assistant: "


def without_system(messages: list[dict]) -> list[dict]:
    """For a template without a system role (Gemma): the system text opens the first user message."""
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    rest = [dict(m) for m in messages if m["role"] != "system"]
    for m in rest:
        if m["role"] == "user":
            m["content"] = f"{system}\n\n{m['content']}" if system else m["content"]
            break
    else:
        rest.insert(0, {"role": "user", "content": system})
    return rest


def end_of_turn_id(tokenizer) -> int | None:
    """The token that closes an assistant turn in the model's chat template (`<|im_end|>` for ChatML models),
    else EOS. Learning to write it is how a tuned model learns to stop where the journal's analyses stop; some
    models' EOS (`<|endoftext|>`) is not what their template ends a turn with."""
    if getattr(tokenizer, "chat_template", None):
        mark = "\u00a7\u00a7"
        try:
            chat = tokenizer.apply_chat_template([{"role": "user", "content": "a"},
                                                  {"role": "assistant", "content": mark}], tokenize=False)
        except Exception:  # noqa: BLE001 - templates raise their own errors (e.g. on roles they refuse)
            chat = ""
        if mark in chat:
            added = getattr(tokenizer, "added_tokens_decoder", {}) or {}
            special = set(tokenizer.all_special_ids) | {i for i, t in added.items() if getattr(t, "special", False)}
            after = tokenizer(chat.split(mark, 1)[1], add_special_tokens=False)["input_ids"]
            found = next((i for i in after if i in special), None)
            if found is not None:
                return found
    return tokenizer.eos_token_id


def tokenize(tokenizer, example: Example, max_len: int | None = None) -> Tokenized:
    """Prompt and completion tokenized separately so the boundary is exact; the completion ends with the
    end-of-turn token (see `end_of_turn_id`), so the model learns to stop.

    When longer than `max_len`, the prompt loses its start (the situation's end and the answer matter most).
    """
    prompt = tokenizer(render_prompt(tokenizer, example), add_special_tokens=False)["input_ids"]
    answer = tokenizer(example.completion, add_special_tokens=False)["input_ids"]
    end = end_of_turn_id(tokenizer)
    if end is not None:
        answer = [*answer, end]
    if max_len and len(prompt) + len(answer) > max_len:
        answer = answer[: max_len - min(len(prompt), max_len // 2)]
        prompt = prompt[len(prompt) + len(answer) - max_len:]
    return Tokenized(tuple(prompt + answer), len(prompt))


def length_grouped_batches(lengths: Sequence[int], batch_size: int, seed: int) -> list[list[int]]:
    """Batches of similar length (little padding), in a seeded random order.

    Indices are shuffled first so equal lengths are not always grouped the same way, then sorted by length,
    cut into batches, and the batch order shuffled: each epoch differs, and the same seed gives the same order.
    """
    rng = random.Random(seed)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    order.sort(key=lambda i: lengths[i])
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(batches)
    return batches


def collate(items: Sequence[Tokenized], pad_id: int):
    """Right-padded (input_ids, labels) tensors. No attention mask is needed: with right padding and a
    causal model, real tokens never see the padding after them, and padding is masked out of the loss."""
    import torch

    width = max(len(t) for t in items)
    ids = torch.full((len(items), width), pad_id, dtype=torch.long)
    labels = torch.full((len(items), width), IGNORE, dtype=torch.long)
    for row, t in enumerate(items):
        ids[row, : len(t)] = torch.tensor(t.ids)
        labels[row, : len(t)] = torch.tensor(t.labels)
    return ids, labels


def padding_share(items: Sequence[Tokenized], batches: Sequence[Sequence[int]]) -> float:
    real = sum(len(items[i]) for b in batches for i in b)
    total = sum(max(len(items[i]) for i in b) * len(b) for b in batches)
    return 1 - real / total if total else 0.0


def micro_batches(items: Sequence[Tokenized], batch: Sequence[int], micro_tokens: int) -> list[list[int]]:
    """Split one optimizer batch (already similar lengths) into passes of at most `micro_tokens` tokens."""
    out: list[list[int]] = []
    for i in sorted(batch, key=lambda i: len(items[i])):
        cur = out[-1] if out else None
        if cur is not None and max(len(items[j]) for j in [*cur, i]) * (len(cur) + 1) <= micro_tokens:
            cur.append(i)
        else:
            out.append([i])
    return out
