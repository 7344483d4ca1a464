"""Real GGUF files for tests, written with the `gguf` package from a tiny Hugging Face Llama folder."""

import json
from pathlib import Path

FILE_TYPES = {"F32": 0, "F16": 1, "Q4_0": 2, "Q4_1": 3, "Q8_0": 7, "Q5_0": 8, "Q5_1": 9, "BF16": 32}
# The gguf package (0.19) writes these; it cannot quantize the K-quants (Q4_K_M, Q5_K_M, Q6_K): NotImplementedError.
WRITABLE = ("F16", "BF16", "Q8_0", "Q5_0", "Q5_1", "Q4_0", "Q4_1")


def write_llama_gguf(hf_folder: Path, path: Path, quant: str = "F16", *, name: str = "Tiny Llama Instruct",
                     license: str = "apache-2.0", chat_template: bool = True) -> Path:
    """The tiny Llama's weights and byte-level BPE tokenizer as a llama.cpp-style GGUF: 2-D weights in `quant`
    (one of WRITABLE), norms in F32."""
    import gguf
    import numpy as np
    from safetensors.numpy import load_file

    config = json.loads((hf_folder / "config.json").read_text())
    tensors = {}
    for f in sorted(hf_folder.glob("*.safetensors")):
        tensors.update(load_file(f))
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name(name)
    w.add_license(license)
    w.add_file_type(FILE_TYPES[quant])
    w.add_context_length(config["max_position_embeddings"])
    w.add_embedding_length(config["hidden_size"])
    w.add_block_count(config["num_hidden_layers"])
    w.add_feed_forward_length(config["intermediate_size"])
    w.add_head_count(config["num_attention_heads"])
    w.add_head_count_kv(config["num_key_value_heads"])
    w.add_layer_norm_rms_eps(config["rms_norm_eps"])
    w.add_rope_dimension_count(config["hidden_size"] // config["num_attention_heads"])
    w.add_vocab_size(config["vocab_size"])
    tok = json.loads((hf_folder / "tokenizer.json").read_text())
    vocab = sorted(tok["model"]["vocab"].items(), key=lambda kv: kv[1])
    specials = {t["content"] for t in tok.get("added_tokens", [])}
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("default")
    w.add_token_list([t for t, _ in vocab])
    w.add_token_types([3 if t in specials else 1 for t, _ in vocab])  # 3 control, 1 normal
    merges = tok["model"]["merges"]
    w.add_token_merges([m if isinstance(m, str) else " ".join(m) for m in merges])
    tc = json.loads((hf_folder / "tokenizer_config.json").read_text())
    ids = {t: i for t, i in vocab}
    w.add_bos_token_id(ids[tc["bos_token"]])
    w.add_eos_token_id(ids[tc["eos_token"]])
    w.add_pad_token_id(ids[tc["pad_token"]])
    template = tc.get("chat_template") or (hf_folder / "chat_template.jinja").read_text() \
        if (hf_folder / "chat_template.jinja").is_file() or tc.get("chat_template") else None
    if chat_template and template:
        w.add_chat_template(template)

    names = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
             "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
             "mlp.down_proj": "ffn_down", "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm"}

    def add(gname: str, array) -> None:
        array = np.asarray(array, dtype=np.float32)
        if array.ndim == 1:
            w.add_tensor(gname, array)
        elif quant == "F16":
            w.add_tensor(gname, array.astype(np.float16))
        elif quant == "F32":
            w.add_tensor(gname, array)
        else:
            kind = gguf.GGMLQuantizationType[quant]
            w.add_tensor(gname, gguf.quants.quantize(array, kind), raw_dtype=kind)

    for key, value in tensors.items():
        key = key.removeprefix("model.")
        if key == "embed_tokens.weight":
            add("token_embd.weight", value)
        elif key == "norm.weight":
            add("output_norm.weight", value)
        elif key == "lm_head.weight":
            add("output.weight", value)
        elif key.startswith("layers."):
            _, i, rest = key.split(".", 2)
            add(f"blk.{i}.{names[rest.removesuffix('.weight')]}.weight", value)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path
