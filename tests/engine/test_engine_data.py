import subprocess
import sys

import pytest

from localtune.engine.data import IGNORE, collate, length_grouped_batches, padding_share, tokenize


def test_importing_the_engine_does_not_import_torch():
    code = ("import sys, localtune.engine, localtune.engine.train, localtune.engine.models, "
            "localtune.engine.adapters, localtune.engine.hardware, localtune.engine.data, localtune.events; "
            "bad = [m for m in ('torch', 'transformers', 'peft', 'bitsandbytes') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_prompt_tokens_are_masked_and_completion_ends_with_eos(tiny_model, examples):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    t = tokenize(tok, examples[0])
    labels = t.labels
    assert labels[: t.prompt_len] == [IGNORE] * t.prompt_len
    assert labels[t.prompt_len:] == list(t.ids[t.prompt_len:])
    assert t.ids[-1] == tok.eos_token_id
    assert tok.decode(t.ids[t.prompt_len:]).startswith("Assessment: ")
    assert tok.decode(t.ids[: t.prompt_len]).endswith("<|im_start|>assistant\n")


def test_the_training_target_ends_with_the_templates_end_of_turn_even_when_eos_differs(tiny_model, examples):
    from transformers import AutoTokenizer

    from localtune.engine.data import end_of_turn_id

    tok = AutoTokenizer.from_pretrained(tiny_model)
    turn_end = tok.convert_tokens_to_ids("<|im_end|>")
    assert end_of_turn_id(tok) == turn_end
    tok.eos_token = "<|endoftext|>"  # a model whose EOS is not what its chat template closes a turn with
    t = tokenize(tok, examples[0])
    assert t.ids[-1] == turn_end and t.labels[-1] == turn_end  # the last label token: the model learns to stop
    assert tok.decode(t.ids[t.prompt_len:-1]) == examples[0].completion


def test_truncation_keeps_the_answer(tiny_model, examples):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    full = tokenize(tok, examples[0])
    short = tokenize(tok, examples[0], max_len=len(full) - 10)
    assert len(short) == len(full) - 10
    assert short.ids[short.prompt_len:] == full.ids[full.prompt_len:]


def test_length_grouped_batches_cut_padding_and_are_seeded():
    import random

    rng = random.Random(1)
    lengths = [rng.randint(50, 500) for _ in range(64)]

    class T:
        def __init__(self, n):
            self.n = n

        def __len__(self):
            return self.n

    items = [T(n) for n in lengths]
    order = list(range(64))
    rng.shuffle(order)
    plain = [order[i:i + 4] for i in range(0, 64, 4)]
    grouped = length_grouped_batches(lengths, 4, seed=3)
    assert sorted(i for b in grouped for i in b) == list(range(64))
    assert padding_share(items, grouped) < padding_share(items, plain) / 3
    assert grouped == length_grouped_batches(lengths, 4, seed=3)
    assert grouped != length_grouped_batches(lengths, 4, seed=4)


def test_collate_pads_right_and_masks_padding(tiny_model, examples):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    items = [tokenize(tok, e) for e in examples[:3]]
    ids, labels = collate(items, tok.pad_token_id)
    for row, t in enumerate(items):
        assert ids[row, : len(t)].tolist() == list(t.ids)
        assert (labels[row, len(t):] == IGNORE).all()


@pytest.mark.parametrize("head", [True, False])
def test_padded_rows_without_mask_equal_each_sequence_alone(tiny_model, examples, head):
    """Right padding + causal attention needs no mask: each row's loss equals the sequence run alone."""
    import torch
    from transformers import AutoTokenizer

    from localtune.engine.adapters import load_base
    from localtune.engine.train.model import _loss_sum

    tok = AutoTokenizer.from_pretrained(tiny_model)
    model = load_base(tiny_model)
    from peft import LoraConfig, get_peft_model

    model = get_peft_model(model, LoraConfig(r=4, target_modules="all-linear"))
    items = sorted((tokenize(tok, e) for e in examples[:4]), key=len)
    assert len(items[0]) < len(items[-1])
    ids, labels = collate(items, tok.pad_token_id)
    with torch.no_grad():
        batch_logits = model.get_base_model()(input_ids=ids).logits
        together, n = _loss_sum(model, ids, labels, head)
        alone = 0.0
        for row, t in enumerate(items):
            one_ids, one_labels = collate([t], tok.pad_token_id)
            logits = model.get_base_model()(input_ids=one_ids).logits[0]
            assert torch.allclose(batch_logits[row, : len(t)], logits, atol=1e-5)
            alone += float(_loss_sum(model, one_ids, one_labels, head)[0])
    assert n == sum(len(t) - t.prompt_len for t in items)
    assert float(together) == pytest.approx(alone, rel=1e-5)


def test_completion_only_head_gives_the_same_loss_as_the_full_head(tiny_model, examples):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoTokenizer

    from localtune.engine.adapters import load_base
    from localtune.engine.train.model import _loss_sum

    tok = AutoTokenizer.from_pretrained(tiny_model)
    model = get_peft_model(load_base(tiny_model), LoraConfig(r=4, target_modules="all-linear"))
    ids, labels = collate([tokenize(tok, e) for e in examples[:3]], tok.pad_token_id)
    with torch.no_grad():
        a, n1 = _loss_sum(model, ids, labels, True)
        b, n2 = _loss_sum(model, ids, labels, False)
    assert n1 == n2 and float(a) == pytest.approx(float(b), rel=1e-5)
