"""The folded LoRA form (engine/merged_lora.py) computes what peft computes, and follows the adapter as it trains."""

from dataclasses import replace

import pytest
from engine_helpers import collect, make_examples

from localtune.engine import merged_lora
from localtune.engine.train import TrainConfig, plan, train
from localtune.events import Finished, Progress


def _peft_model(bias: bool, dropout: float = 0.0, seed: int = 0, bf16_values: bool = False):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=97, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, attention_bias=bias, mlp_bias=bias)
    base = LlamaForCausalLM(config).requires_grad_(False)
    if bf16_values:  # as if loaded in fp32 from a checkpoint saved in bf16
        base.to(torch.bfloat16).float()
    model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, lora_dropout=dropout, target_modules="all-linear",
                                            task_type="CAUSAL_LM"))
    with torch.no_grad():  # peft starts B at zero; a non-zero B makes every term of the check count
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.05)
    return model


def _forward_backward(model, ids):
    model.zero_grad(set_to_none=True)
    logits = model(input_ids=ids).logits
    logits.float().pow(2).mean().backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}
    return logits.detach(), grads


@pytest.mark.parametrize(("bias", "bf16_values"), [(False, False), (True, False), (False, True)])
def test_folded_form_matches_peft_outputs_and_gradients(bias, bf16_values):
    import torch

    model = _peft_model(bias, bf16_values=bf16_values)
    ids = torch.randint(0, 97, (2, 11))
    logits, grads = _forward_backward(model, ids)
    weights = {n: p.clone() for n, p in model.named_parameters() if not p.requires_grad}

    assert merged_lora.enable(model) == 14  # 7 adapted layers in each of 2 blocks
    adapted = [n for n in weights if "base_layer.weight" in n]
    assert len(adapted) == 14
    # Weights that are bf16 values are kept as bf16 (half the memory); others stay as they were.
    for name, p in model.named_parameters():
        if name in adapted:
            assert p.dtype == (torch.bfloat16 if bf16_values else torch.float32), name
    folded_logits, folded_grads = _forward_backward(model, ids)
    torch.testing.assert_close(folded_logits, logits, rtol=1e-5, atol=1e-5)
    assert folded_grads.keys() == grads.keys() and len(grads) == 28
    for name, g in grads.items():
        torch.testing.assert_close(folded_grads[name], g, rtol=1e-4, atol=1e-6, msg=name)
    # The base model's values never change: the adapter goes into a separate working copy.
    for name, p in model.named_parameters():
        if not p.requires_grad:
            assert torch.equal(p.float(), weights[name]), name


@pytest.mark.parametrize("bf16_values", [False, True])
def test_working_copy_follows_each_optimizer_step_and_a_restored_adapter(bf16_values):
    import torch
    from peft import get_peft_model_state_dict, set_peft_model_state_dict

    reference, folded = _peft_model(False, bf16_values=bf16_values), _peft_model(False, bf16_values=bf16_values)
    merged_lora.enable(folded)
    ids = torch.randint(0, 97, (1, 9))
    opts = [torch.optim.AdamW([p for p in m.parameters() if p.requires_grad], lr=1e-2) for m in (reference, folded)]
    for _ in range(3):
        for model, opt in zip((reference, folded), opts, strict=True):
            _forward_backward(model, ids)
            opt.step()
        with torch.no_grad():  # a stale working copy would still give the logits from before the step
            torch.testing.assert_close(folded(input_ids=ids).logits, reference(input_ids=ids).logits,
                                       rtol=1e-4, atol=1e-4)

    other = get_peft_model_state_dict(_peft_model(False, seed=5))
    for model in (reference, folded):
        set_peft_model_state_dict(model, other)
    with torch.no_grad():
        torch.testing.assert_close(folded(input_ids=ids).logits, reference(input_ids=ids).logits,
                                   rtol=1e-5, atol=1e-5)


def test_only_plain_fp32_adapters_are_folded():
    assert merged_lora.enable(_peft_model(False, dropout=0.1)) == 0  # dropout needs the separate adapter input
    bf16 = _peft_model(False)
    import torch

    bf16.get_base_model().to(torch.bfloat16)
    assert merged_lora.eligible(bf16) == []


@pytest.mark.parametrize("saved_in", ["fp32", "bf16"])
def test_cpu_plan_folds_and_trains_like_peft(saved_in, tiny_model, tiny_model_saved_in_bf16, cpu):
    tiny_model = tiny_model_saved_in_bf16 if saved_in == "bf16" else tiny_model
    examples = make_examples(12)
    config = TrainConfig(epochs=1, lr=5e-3, lora_r=8, lora_alpha=16, batch_size=2, seed=7, checkpoint_every_s=0)
    folded_plan = plan(cpu, tiny_model, examples, config)
    assert folded_plan.merged_lora and "folded" in folded_plan.describe()
    # The plan counts the working copy: 4 bytes per decoder weight more, or 2 when the original stays in bf16.
    unfolded = plan(cpu, tiny_model, examples, replace(config, lora_dropout=0.1))
    import torch
    from transformers import AutoModelForCausalLM

    layers = AutoModelForCausalLM.from_pretrained(tiny_model).model.layers
    adapted = sum(m.weight.numel() for m in layers.modules() if isinstance(m, torch.nn.Linear))
    extra = folded_plan.memory_needed - unfolded.memory_needed
    assert extra == pytest.approx(adapted * (2 if saved_in == "bf16" else 4), rel=0.01)  # (+ the norms)
    assert not plan(cpu, tiny_model, examples, replace(config, lora_dropout=0.1)).merged_lora
    assert not plan(cpu, tiny_model, examples, replace(config, quantization="nf4")).merged_lora

    runs = {}
    for folded in (True, False):
        p = replace(folded_plan, merged_lora=folded)
        runs[folded] = collect(train(tiny_model, examples, make_examples(4, seed=9), config, plan_=p))
    losses = {k: [e.loss for e in v if isinstance(e, Progress)] for k, v in runs.items()}
    assert losses[True] == pytest.approx(losses[False], rel=1e-4)
    assert len(losses[True]) == 6 and losses[True][-1] < losses[True][0]
    done = {k: v[-1] for k, v in runs.items()}
    assert isinstance(done[True], Finished)
    assert done[True].eval_loss == pytest.approx(done[False].eval_loss, rel=1e-4)
