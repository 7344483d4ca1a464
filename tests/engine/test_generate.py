"""The Reader on a tiny random Llama: exact generic column, adapters from bytes, streaming and cancel."""

from __future__ import annotations

import functools
import json
from dataclasses import replace

import pytest
import torch

from localtune.dataset.prompts import LABELS, Example, completion_text, prompt_messages
from localtune.engine.generate import GREEDY, Decoding, Reader
from localtune.errors import Cancelled, ModelError
from localtune.events import COLUMNS, Analysis, Piece
from localtune.progress import CancelToken

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
CORPUS = [
    "Field: nursing. Norms and context in this field: handovers are written and spoken.",
    "Situation: the charge nurse asked a colleague to cover a night shift at two hours' notice.",
    "Perspective to take: employee. Is this conduct reasonable, problematic or mixed?",
    "Assessment: reasonable. Assessment: problematic. Assessment: mixed. Café naïve résumé — ✓",
    "You read workplace situations the way an experienced practitioner of that field would.",
]


@functools.cache
def _tokenizer_and_state():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(CORPUS * 3, trainers.BpeTrainer(
        vocab_size=500, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    tok.chat_template = CHAT_TEMPLATE
    torch.manual_seed(0)
    model = _fresh(tok)
    for p in model.parameters():  # larger weights than the default init: varied greedy output
        p.data.normal_(0, 0.2)
    return tok, {k: v.clone() for k, v in model.state_dict().items()}


def _fresh(tok):
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
                         eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, bos_token_id=None)
    return LlamaForCausalLM(config).eval()


def tiny_model():
    """(model, tokenizer): the same random weights every call, a new model object each time."""
    tok, state = _tokenizer_and_state()
    model = _fresh(tok)
    model.load_state_dict(state)
    return model, tok


def make_adapter(seed: int, r: int = 4, targets=("q_proj", "v_proj", "down_proj")):
    """(weights bytes, config dict, reference PeftModel): a LoRA with non-zero B, serialized as the vault keeps it."""
    from peft import LoraConfig, get_peft_model, get_peft_model_state_dict
    from safetensors.torch import save

    torch.manual_seed(seed)
    model, _ = tiny_model()
    config = LoraConfig(r=r, lora_alpha=2 * r, target_modules=list(targets), init_lora_weights=False)
    peft_model = get_peft_model(model, config).eval()
    weights = save({k: v.contiguous() for k, v in get_peft_model_state_dict(peft_model).items()})
    as_json = json.loads(json.dumps(peft_model.peft_config["default"].to_dict(), default=list))
    return weights, as_json, peft_model


@pytest.fixture
def reader():
    return Reader(*tiny_model())


def messages(situation="the charge nurse asked a colleague to cover a night shift", industry="nursing"):
    return prompt_messages(situation=situation, industry=industry, context="handovers are written",
                           viewpoint="employee")


def hf_greedy(model, reader, chat, n):
    ids = reader.encode(chat)
    out = model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                         max_new_tokens=n, do_sample=False, eos_token_id=list(reader.eos_ids),
                         pad_token_id=reader.tokenizer.pad_token_id)
    return [t for t in out[0, len(ids):].tolist() if t not in reader.eos_ids]


def test_generic_column_is_exactly_the_base_model(reader):
    pristine, _ = tiny_model()
    ids = reader.encode(messages())
    with torch.no_grad():
        expected = pristine(torch.tensor([ids])).logits[0]
    assert torch.equal(reader.logits(ids), expected)
    for name, seed in (("a", 1), ("b", 2)):
        weights, config, _ = make_adapter(seed)
        reader.add_adapter(name, weights, config)
    assert torch.equal(reader.logits(ids), expected)  # adapters loaded but disabled: bit-identical


def test_tuned_column_is_the_adapter_and_differs_from_base(reader):
    weights, config, reference = make_adapter(1)
    reader.add_adapter("v1", weights, config)
    ids = reader.encode(messages())
    with torch.no_grad():
        expected = reference(input_ids=torch.tensor([ids])).logits[0]
    tuned = reader.logits(ids, adapter="v1")
    torch.testing.assert_close(tuned, expected, rtol=0, atol=1e-5)
    assert (tuned - reader.logits(ids)).abs().max() > 1e-2


def test_two_adapters_switch_without_reloading_the_base(reader):
    base_obj, embed_ptr = reader.base, reader.base.get_input_embeddings().weight.data_ptr()
    for name, seed in (("a", 1), ("b", 2)):
        reader.add_adapter(name, *make_adapter(seed)[:2])
    assert reader.adapters == ("a", "b")
    ids = reader.encode(messages())
    a1, b1, a2 = (reader.logits(ids, adapter=n) for n in ("a", "b", "a"))
    assert torch.equal(a1, a2)
    assert (a1 - b1).abs().max() > 1e-2
    assert reader.base is base_obj and reader.base.get_input_embeddings().weight.data_ptr() == embed_ptr
    reader.remove_adapter("a")
    assert reader.adapters == ("b",)
    assert torch.equal(reader.logits(ids, adapter="b"), b1)


def test_removing_the_last_adapter_restores_the_plain_base(reader):
    ids = reader.encode(messages())
    before = reader.logits(ids)
    reader.add_adapter("a", *make_adapter(1)[:2])
    reader.remove_adapter("a")
    assert reader.adapters == ()
    assert torch.equal(reader.logits(ids), before)
    assert not any("lora" in n for n, _ in reader.base.named_parameters())


def test_unusable_adapters_are_refused_and_leave_no_trace(reader):
    weights, config, _ = make_adapter(1)
    with pytest.raises(ModelError, match="damaged"):
        reader.add_adapter("x", b"not safetensors", config)
    with pytest.raises(ModelError, match="does not fit"):
        reader.add_adapter("y", weights, {**config, "target_modules": ["no_such_proj"]})
    # Same module names, other rank -> shape mismatch.
    other = make_adapter(3, r=8)
    with pytest.raises(ModelError, match="does not fit"):
        reader.add_adapter("z", other[0], config)
    assert reader.adapters == ()
    with pytest.raises(ModelError, match="No adapter"):
        reader.stream(messages(), adapter="missing")


@pytest.mark.parametrize("adapter", [None, "a"])
def test_streamed_pieces_join_to_plain_greedy_generation(reader, adapter):
    weights, config, reference = make_adapter(1)
    reader.add_adapter("a", weights, config)
    plain = tiny_model()[0] if adapter is None else reference
    chat = messages()
    expected_ids = hf_greedy(plain, reader, chat, 24)
    assert list(reader.token_ids(chat, adapter=adapter, max_new_tokens=24)) == expected_ids
    pieces = list(reader.stream(chat, adapter=adapter, max_new_tokens=24))
    assert len(pieces) > 1 and all(pieces)
    assert "".join(pieces) == reader.decode(expected_ids)


def test_a_started_answer_continues_from_the_given_text(reader):
    chat = messages()
    lead = reader.tokenizer("Assessment:", add_special_tokens=False)["input_ids"]
    ids = reader.encode(chat) + lead
    plain = tiny_model()[0]
    out = plain.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                         max_new_tokens=10, do_sample=False, eos_token_id=list(reader.eos_ids),
                         pad_token_id=reader.tokenizer.pad_token_id)
    new = [t for t in out[0, len(ids):].tolist() if t not in reader.eos_ids]
    text = reader.generate(chat, max_new_tokens=10, start="Assessment:")
    assert text == reader.decode(lead + new) and text.startswith("Assessment:")


def test_cancel_stops_a_stream_within_one_token(reader):
    calls = []
    reader.base.register_forward_hook(lambda *_: calls.append(1))
    cancel = CancelToken()
    stream = reader.stream(messages(), cancel=cancel, max_new_tokens=50)
    next(stream)
    done = len(calls)
    cancel.cancel()
    with pytest.raises(Cancelled):
        next(stream)
    assert len(calls) == done  # not one more forward pass


def test_analyze_parses_the_assessment(reader, monkeypatch):
    monkeypatch.setattr(reader, "stream", lambda *a, **k: iter(["Assessment: prob", "lematic\nIt crossed a line."]))
    result = reader.analyze(messages(), column="base")
    assert (result.assessment, result.text) == ("problematic", "It crossed a line.")
    assert result.to_dict() | {"notes": []} == {"assessment": "problematic", "text": "It crossed a line.",
                                                 "stated": "problematic", "stop": "cap", "repeating": False,
                                                 "notes": []}


def _shot(situation, label):
    return Example(messages(situation), completion_text(label, "Because of the field's norms."), label)


def test_few_shot_turns_put_the_most_similar_last_and_respect_the_budget(reader):
    shots = [_shot("nurse skipped the double check", "problematic"), _shot("nurse swapped shifts", "reasonable")]
    chat = reader.few_shot_messages(messages(), shots, budget=10_000)
    roles = [m["role"] for m in chat]
    assert roles == ["system", "user", "assistant", "user", "assistant", "user"]
    assert "double check" in chat[3]["content"] and chat[4]["content"].startswith("Assessment: problematic")
    assert chat[-1] == messages()[-1]
    one = len(reader.encode(reader.few_shot_messages(messages(), shots[:1], budget=10_000)))
    trimmed = reader.few_shot_messages(messages(), shots, budget=one)
    assert len(trimmed) == 4 and "double check" in trimmed[1]["content"]  # least similar dropped first
    assert reader.few_shot_messages(messages(), shots, budget=1) == tuple(messages())


def test_compare_writes_each_column_from_one_model(reader):
    reader.add_adapter("v1", *make_adapter(1)[:2])
    events = list(reader.compare(messages(), adapter="v1", shots=[_shot("nurse swapped shifts", "mixed")],
                                 decoding=replace(GREEDY, max_new_tokens=12)))
    done = [e for e in events if isinstance(e, Analysis)]
    assert [a.column for a in done] == list(COLUMNS)
    for a in done:
        assert "".join(e.text for e in events if isinstance(e, Piece) and e.column == a.column) == a.raw
    assert all(a.raw.startswith("Assessment:") for a in done)  # every column has to commit to a label first
    assert done[0].raw == reader.generate(messages(), max_new_tokens=12, start="Assessment:")
    assert done[2].raw == reader.generate(messages(), adapter="v1", max_new_tokens=12, start="Assessment:")
    assert done[0].raw != done[2].raw
    assert [a.column for a in reader.compare(messages(), decoding=replace(GREEDY, max_new_tokens=2)) if isinstance(a, Analysis)] == ["base"]


def test_load_from_a_folder_plain_and_4bit(tmp_path):
    model, tok = tiny_model()
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    ids = Reader(model, tok).encode(messages())
    plain = Reader.load(tmp_path, device="cpu")
    assert torch.equal(plain.logits(ids), Reader(model, tok).logits(ids))
    nf4 = Reader.load(tmp_path, quantize=True, device="cpu")
    assert "4bit" in type(nf4.base.model.layers[0].self_attn.q_proj).__name__
    nf4.add_adapter("a", *make_adapter(1)[:2])
    assert (nf4.logits(ids, adapter="a") - nf4.logits(ids)).abs().max() > 1e-2
    assert len(list(nf4.token_ids(messages(), adapter="a", max_new_tokens=3))) <= 3
    with pytest.raises(ModelError):
        Reader.load(tmp_path / "nowhere", device="cpu")


# --- decoding that cannot loop, answers that end, probabilities ---------------------------------------------


def _ngram_repeats(ids, n):
    grams = [tuple(ids[i:i + n]) for i in range(len(ids) - n + 1)]
    return len(grams) - len(set(grams))


def test_no_repeat_ngrams_removes_the_loops_greedy_decoding_falls_into(reader):
    greedy = list(reader.token_ids(messages(), max_new_tokens=80))
    assert _ngram_repeats(greedy, 3) > 0  # the tiny random model loops, as the starter did
    shaped = list(reader.token_ids(messages(), max_new_tokens=80,
                                   decoding=Decoding(repetition_penalty=1.3, no_repeat_ngram=3, paragraph_end=False)))
    assert len(shaped) == 80 and _ngram_repeats(shaped, 3) == 0


def test_sampling_is_reproducible_from_its_seed(reader):
    def sample(seed):
        return reader.generate(messages(), decoding=Decoding(temperature=1.0, top_p=0.9, seed=seed,
                                                             paragraph_end=False, max_new_tokens=30))

    assert sample(7) == sample(7)
    assert len({sample(seed) for seed in range(4)}) > 1


def test_decoding_settings_are_checked_and_survive_storage():
    with pytest.raises(ModelError, match="repetition penalty.*top-p"):
        Decoding(repetition_penalty=0.5, top_p=0)
    custom = Decoding(repetition_penalty=1.3, temperature=0.7, seed=3)
    assert Decoding.from_dict({**custom.to_dict(), "from_a_later_version": 1}) == custom
    assert Decoding.from_dict(None) == Decoding()


def scripted(reader, text: str, monkeypatch, *, eos: bool = True):
    """Make the model write `text` after "Assessment:" token by token (then the end of turn when `eos`)."""
    script = reader.tokenizer(text, add_special_tokens=False)["input_ids"]
    end = reader.tokenizer.eos_token_id
    vocab = reader.base.config.vocab_size
    step = iter(range(10_000))

    def forward(input_ids, *, adapter=None, cache=None, logits_to_keep=0):
        i = next(step)
        token = script[i] if i < len(script) else (end if eos else script[i % len(script)])
        logits = torch.zeros(1, 1, vocab)
        logits[0, 0, token] = 10.0
        return logits, None

    monkeypatch.setattr(reader, "forward", forward)
    monkeypatch.setattr(reader, "label_scores", lambda *a, labels=LABELS, **k: {
        "reasonable": -3.0, "problematic": -1.0, "mixed": -2.0} if "mixed" in labels else
        {"reasonable": -3.0, "problematic": -1.0})


def test_a_reading_stops_at_the_end_of_turn(reader, monkeypatch):
    scripted(reader, " problematic\nIt crossed a line.", monkeypatch)
    a = reader.analyze(messages(), decoding=Decoding(), labels=LABELS)
    assert (a.stop, a.text, a.notes) == ("end_of_turn", "It crossed a line.", ())


def test_a_reading_stops_at_a_blank_line_after_its_paragraph(reader, monkeypatch):
    scripted(reader, " problematic\n\nIt crossed a line. Twice.\n\nIn other news, the weather", monkeypatch)
    a = reader.analyze(messages(), decoding=Decoding(), labels=LABELS)
    assert a.stop == "paragraph" and a.text == "It crossed a line. Twice."  # the blank line after the label is not it
    scripted(reader, " mixed\nFirst point.\nAssessment: reasonable\nA second opinion", monkeypatch)
    assert reader.analyze(messages(), decoding=Decoding()).text.startswith("First point.")


def test_a_reading_ends_with_a_sentence_near_the_journal_length(reader, monkeypatch):
    answers = ["Assessment: mixed\n" + "Short and to the point. " * k for k in (2, 3, 4)]
    target = reader.answer_length(answers)
    assert target == len(reader.tokenizer(answers[-1], add_special_tokens=False)["input_ids"])
    scripted(reader, " mixed\n" + "A sentence that goes on for a while. " * 40, monkeypatch, eos=False)
    a = reader.analyze(messages(), decoding=Decoding(target_tokens=target))
    assert a.stop == "length" and a.text.endswith(".") and not a.notes


def test_a_reading_cut_off_at_the_cap_says_so(reader, monkeypatch):
    scripted(reader, " mixed\nAn endless sentence without a stop" + " and more" * 80, monkeypatch, eos=False)
    a = reader.analyze(messages(), decoding=Decoding(max_new_tokens=40))
    assert a.stop == "cap" and any("Cut off at the length limit (40 tokens)" in n for n in a.notes)
    assert a.to_dict()["stop"] == "cap"


def test_the_badge_is_the_most_likely_label_and_a_disagreeing_text_is_named(reader, monkeypatch):
    scripted(reader, " reasonable\nIt was fine.", monkeypatch)
    a = reader.analyze(messages(), labels=LABELS)
    assert set(a.probabilities) == set(LABELS) and sum(a.probabilities.values()) == pytest.approx(1.0)
    assert a.assessment == "problematic" and a.stated == "reasonable"
    assert any("reasonable" in n and "problematic" in n for n in a.notes)
    assert set(a.to_dict()["probabilities"]) == set(LABELS)
    only_two = reader.analyze(messages(), labels=("reasonable", "problematic"))
    assert set(only_two.probabilities) == {"reasonable", "problematic"}


def test_real_label_probabilities_sum_to_one_per_column(reader):
    reader.add_adapter("v1", *make_adapter(1)[:2])
    done = [e for e in reader.compare(messages(), adapter="v1", decoding=replace(Decoding(), max_new_tokens=8))
            if isinstance(e, Analysis)]
    for a in done:
        assert sum(a.probabilities.values()) == pytest.approx(1.0)
        assert a.assessment == max(a.probabilities, key=a.probabilities.get)
    assert done[0].probabilities != done[1].probabilities  # the adapter changes what the model finds likely


def test_a_looping_reading_is_named_as_repeating(reader, monkeypatch):
    scripted(reader, " mixed\n" + "The plan was to take on a new team, and " * 6, monkeypatch, eos=True)
    a = reader.analyze(messages(), decoding=GREEDY)
    assert a.repeating and any("repeating itself" in n for n in a.notes)


def test_a_reading_is_not_ended_before_its_shortest_length(reader, monkeypatch):
    """The end of turn (and a blank line) wait for `min_tokens`; the model's next choice fills in until then."""
    script = reader.tokenizer(" mixed\nShort.", add_special_tokens=False)["input_ids"]
    filler = script[0]  # " mixed", one token
    end, vocab = reader.tokenizer.eos_token_id, reader.base.config.vocab_size
    step = iter(range(10_000))

    def forward(input_ids, *, adapter=None, cache=None, logits_to_keep=0):
        i = next(step)
        logits = torch.zeros(1, 1, vocab)
        logits[0, 0, filler] = 5.0  # the second choice at every step
        logits[0, 0, script[i] if i < len(script) else end] = 10.0  # " mixed\nShort." then the end of turn
        return logits, None

    lead = len(reader.tokenizer("Assessment:", add_special_tokens=False)["input_ids"])
    monkeypatch.setattr(reader, "forward", forward)
    short = reader.analyze(messages(), decoding=Decoding(no_repeat_ngram=0, repetition_penalty=1.0))
    assert short.stop == "end_of_turn" and short.text == "Short."
    step = iter(range(10_000))
    longer = reader.analyze(messages(), decoding=Decoding(no_repeat_ngram=0, repetition_penalty=1.0,
                                                          min_tokens=lead + len(script) + 5))
    assert longer.stop == "end_of_turn" and longer.text == "Short." + " mixed" * 5
    assert Decoding.from_dict(Decoding(min_tokens=7).to_dict()).min_tokens == 7
    with pytest.raises(ModelError):
        Decoding(min_tokens=-1)


def test_prose_that_judges_against_its_badge_is_named(reader, monkeypatch):
    scripted(reader, " problematic\nHonestly, this was not problematic: she was within her rights.", monkeypatch)
    a = reader.analyze(messages(), labels=("reasonable", "problematic"))
    assert a.assessment == a.stated == "problematic"  # the label line agrees with the badge ...
    assert any("reads as \u201creasonable\u201d" in n for n in a.notes)  # ... the prose does not
    scripted(reader, " problematic\nIt crossed a line: a breach of the rota rules.", monkeypatch)
    assert reader.analyze(messages(), labels=("reasonable", "problematic")).notes == ()


def test_an_analysis_on_the_assessment_line_is_kept(reader, monkeypatch):
    """Small models often answer on one line ("Assessment: reasonable. The lead ..."): that line is the reading,
    not an empty one; nor is a first line without a label ("Assessment: The lead ...") dropped."""
    scripted(reader, " reasonable. The lead asked early and the ward agreed.", monkeypatch)
    a = reader.analyze(messages(), decoding=Decoding(), labels=LABELS)
    assert (a.stated, a.text) == ("reasonable", "The lead asked early and the ward agreed.")
    scripted(reader, " **Problematic** - it crossed a line.\nTwice, in fact.", monkeypatch)
    a = reader.analyze(messages(), decoding=Decoding())
    assert (a.stated, a.text) == ("problematic", "it crossed a line.\nTwice, in fact.")
    scripted(reader, " The lead asked early.\nThe ward agreed.", monkeypatch)
    a = reader.analyze(messages(), decoding=Decoding())
    assert a.text == "The lead asked early.\nThe ward agreed."
    scripted(reader, " mixed\nIt was fine. She asked first.", monkeypatch)  # the usual form is read as before
    assert reader.analyze(messages(), decoding=Decoding()).text == "It was fine. She asked first."


def test_a_reading_that_stops_mid_sentence_ends_with_its_last_whole_sentence(reader, monkeypatch):
    """The starter often begins a new paragraph (or ends its turn) in the middle of a sentence: the reading ends
    with its last whole sentence, or says that it stopped mid-sentence when it has none."""
    scripted(reader, " mixed\nIt was fine. She asked first and then the ward\n\nMore", monkeypatch)
    a = reader.analyze(messages(), decoding=Decoding(), labels=LABELS)
    assert (a.stop, a.text) == ("paragraph", "It was fine.")
    scripted(reader, " mixed\nShe asked first and then the ward", monkeypatch)
    a = reader.analyze(messages(), decoding=Decoding())
    assert a.stop == "end_of_turn" and a.text == "She asked first and then the ward"
    assert "The reading stopped mid-sentence." in a.notes


def test_an_assessment_line_that_repeats_the_question_states_nothing(reader, monkeypatch):
    """"Assessment: reasonable, problematic or mixed." echoes the question: no label is stated, and the echo is
    not part of the analysis."""
    scripted(reader, " reasonable, problematic or mixed.\nIt crossed a line.", monkeypatch)
    a = reader.analyze(messages(), decoding=Decoding(), labels=LABELS)
    assert a.text == "It crossed a line." and a.stated == "problematic"  # what the prose judges


def test_not_only_but_also_is_read_as_one_judgement(reader, monkeypatch):
    """"Not only a breach but also unprofessional" condemns twice: not a mixed reading, nor a negation."""
    scripted(reader, " problematic\nIt was not only a breach of the rota rules but also unprofessional.", monkeypatch)
    assert reader.analyze(messages(), labels=("reasonable", "problematic")).notes == ()
    scripted(reader, " reasonable, problematic or mixed.\nIt was not only wrong but also unfair.", monkeypatch)
    assert reader.analyze(messages(), decoding=Decoding()).stated == "problematic"
