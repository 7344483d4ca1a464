"""Tiny random-weight models of each family localtune supports, built from a config in seconds: each with a
byte-level BPE tokenizer carrying that family's special tokens and a chat template written in its style
(Llama 3 headers, ChatML for Qwen and SmolLM2, [INST] for Mistral, Gemma's turns without a system role,
Phi-3's role tags)."""

from pathlib import Path

from engine_helpers import SITUATIONS

LLAMA3 = (
    "{{ bos_token }}{% for m in messages %}{{ '<|start_header_id|>' + m['role'] + '<|end_header_id|>\n\n' + "
    "m['content'] + '<|eot_id|>' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)
CHATML = (
    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
MISTRAL = (
    "{{ bos_token }}{% set sys = messages | selectattr('role', 'equalto', 'system') | map(attribute='content') | "
    "join('\n\n') %}{% for m in messages if m['role'] != 'system' %}{% if m['role'] == 'user' %}"
    "{{ '[INST] ' + (sys + '\n\n' if sys and loop.first else '') + m['content'] + ' [/INST]' }}"
    "{% else %}{{ m['content'] + eos_token }}{% endif %}{% endfor %}"
)
GEMMA = (
    "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'system' %}"
    "{{ raise_exception('System role not supported') }}{% endif %}"
    "{% set role = 'model' if m['role'] == 'assistant' else m['role'] %}"
    "{{ '<start_of_turn>' + role + '\n' + m['content'] + '<end_of_turn>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}"
)
PHI3 = (
    "{% for m in messages %}{{ '<|' + m['role'] + '|>\n' + m['content'] + '<|end|>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
)

# family -> (config class, extra config, template, special tokens, bos, eos, marker of the assistant turn)
FAMILIES = {
    "llama3": ("LlamaConfig", {"rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                                "high_freq_factor": 4.0, "original_max_position_embeddings": 256}},
               LLAMA3, ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
                        "<|eot_id|>"], "<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>assistant"),
    "smollm2": ("LlamaConfig", {"tie_word_embeddings": True}, CHATML, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                "<|im_start|>", "<|im_end|>", "<|im_start|>assistant"),
    "qwen2": ("Qwen2Config", {}, CHATML, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], None, "<|im_end|>",
              "<|im_start|>assistant"),
    "qwen3": ("Qwen3Config", {"head_dim": 16}, CHATML, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], None,
              "<|im_end|>", "<|im_start|>assistant"),
    "mistral": ("MistralConfig", {"head_dim": 16}, MISTRAL, ["<unk>", "<s>", "</s>", "[INST]", "[/INST]"], "<s>",
                "</s>", "[/INST]"),
    "gemma2": ("Gemma2Config", {"head_dim": 16, "query_pre_attn_scalar": 16, "sliding_window": 64},
               GEMMA, ["<pad>", "<eos>", "<bos>", "<start_of_turn>", "<end_of_turn>"], "<bos>", "<eos>",
               "<start_of_turn>model"),
    "gemma3": ("Gemma3TextConfig", {"head_dim": 16, "query_pre_attn_scalar": 16, "sliding_window": 64},
               GEMMA, ["<pad>", "<eos>", "<bos>", "<start_of_turn>", "<end_of_turn>"], "<bos>", "<eos>",
               "<start_of_turn>model"),
    "phi3": ("Phi3Config", {}, PHI3, ["<|endoftext|>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"], None,
             "<|endoftext|>", "<|assistant|>"),
}


def build(family: str, folder: Path) -> Path:
    """A tiny random model of `family` with its tokenizer and chat template, saved to `folder`."""
    import torch
    import transformers
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

    config_name, extra, template, specials, bos, eos, _ = FAMILIES[family]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    corpus = [s for sit in SITUATIONS for s in sit] + ["Assessment: reasonable problematic mixed system user"]
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus, trainer)
    pad = specials[0]
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=bos, eos_token=eos, pad_token=pad, unk_token=pad)
    fast.chat_template = template
    fast.save_pretrained(folder)
    config = getattr(transformers, config_name)(
        vocab_size=len(fast), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=512, pad_token_id=fast.pad_token_id,
        eos_token_id=fast.eos_token_id, bos_token_id=fast.bos_token_id, **extra)
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(config).save_pretrained(folder)
    return folder
