"""The reference recipe a user would otherwise run: transformers Trainer + peft QLoRA (NF4, double quant) via
prepare_model_for_kbit_training (gradient checkpointing on), DataCollatorForSeq2Seq padding, batch 4, r=16
all-linear, LoRA dropout 0.05, 1 epoch, the Trainer's defaults otherwise (AdamW, linear decay, no warm-up).
Same tokens as ours (same prompt masking); synthetic examples only, so its output_dir (a temp folder, nothing
saved) is harmless here.

`compute="bf16"` is the recipe as the QLoRA paper and the usual tutorials write it:
`bnb_4bit_compute_dtype=torch.bfloat16`, the model loaded in bf16 and `bf16=True` (the Trainer's bf16 autocast,
which it also runs on a CPU). `compute="fp32"` is what this benchmark ran on a CPU before (kept for history).
`compute=None`: bf16 on a GPU that supports it, else fp32."""

from __future__ import annotations

import tempfile


def run_reference(model_dir, items, *, epochs=1, batch_size=4, lr=2e-4, r=16, alpha=32, seed=0, pad_id=0,
                  compute=None):
    """Train; returns (model, training-loop seconds, the compute dtype used: "bf16" | "fp32")."""
    import torch
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        BitsAndBytesConfig,
        DataCollatorForSeq2Seq,
        Trainer,
        TrainingArguments,
    )

    cuda = torch.cuda.is_available()
    if compute is None:
        compute = "bf16" if cuda and torch.cuda.is_bf16_supported() else "fp32"
    bf16 = compute == "bf16"
    dtype = torch.bfloat16 if bf16 else torch.float32
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    bnb = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                             bnb_4bit_compute_dtype=dtype)
    model = AutoModelForCausalLM.from_pretrained(model_dir, quantization_config=bnb, dtype=dtype,
                                                 local_files_only=True)
    model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=True)
    model = get_peft_model(model, LoraConfig(r=r, lora_alpha=alpha, lora_dropout=0.05, target_modules="all-linear",
                                             task_type="CAUSAL_LM"))
    data = [{"input_ids": list(t.ids), "attention_mask": [1] * len(t), "labels": t.labels} for t in items]
    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(output_dir=out, per_device_train_batch_size=batch_size, num_train_epochs=epochs,
                                 learning_rate=lr, logging_steps=1000, save_strategy="no", report_to="none",
                                 seed=seed, use_cpu=not cuda, bf16=bf16, disable_tqdm=True)
        trainer = Trainer(model=model, args=args, train_dataset=data,
                          data_collator=DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=-100))
        result = trainer.train()
    return model, result.metrics["train_runtime"], compute
