"""Real GGUF files for tests, written with the `gguf` package: from a tiny Hugging Face Llama folder, or (K-quants)
from random blocks with that folder's tokenizer."""

import json
from pathlib import Path

FILE_TYPES = {"F32": 0, "F16": 1, "Q4_0": 2, "Q4_1": 3, "Q8_0": 7, "Q5_0": 8, "Q5_1": 9, "BF16": 32}
# The gguf package (0.19) quantizes to these; it cannot quantize to the K-quants (NotImplementedError), whose files
# write_k_quant_llama_gguf below builds from raw blocks instead.
WRITABLE = ("F16", "BF16", "Q8_0", "Q5_0", "Q5_1", "Q4_0", "Q4_1")

# Hugging Face Llama module -> llama.cpp tensor name, inside blk.N
LAYER_NAMES = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
               "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
               "mlp.down_proj": "ffn_down", "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm"}


def _llama_writer(hf_folder: Path, path: Path, config: dict, file_type: int, *, name: str, license: str,
                  chat_template: bool):
    """A GGUFWriter with a llama.cpp-style Llama header of `config`'s sizes and the tiny model's byte-level BPE
    tokenizer; the caller adds the tensors."""
    import gguf

    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name(name)
    w.add_license(license)
    w.add_file_type(file_type)
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
    return w


def _finish(w, path: Path) -> Path:
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


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
    w = _llama_writer(hf_folder, path, config, FILE_TYPES[quant], name=name, license=license,
                      chat_template=chat_template)

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
            add(f"blk.{i}.{LAYER_NAMES[rest.removesuffix('.weight')]}.weight", value)
    return _finish(w, path)


# --- K-quants ------------------------------------------------------------------------------------------------
# The gguf package cannot quantize to K-quants, but a K-quant tensor is only rows of fixed-size blocks: random
# bytes with small, finite float16 scales written where each block keeps them are a valid tensor, and
# gguf.quants.dequantize (the code transformers runs) says which weights they hold.

# Each file type as llama.cpp mixes it for a Llama: the base block type, and the tensors that get more bits
# (attn_v and ffn_down only in some layers, here layer 0; the output layer always).
K_MIXES = {
    "Q2_K": (10, "Q2_K", {"attn_v": "Q3_K", "ffn_down": "Q3_K", "output": "Q6_K"}),
    "Q3_K_M": (12, "Q3_K", {"attn_v": "Q5_K", "ffn_down": "Q4_K", "attn_output": "Q4_K", "output": "Q6_K"}),
    "Q4_K_M": (15, "Q4_K", {"attn_v": "Q6_K", "ffn_down": "Q6_K", "output": "Q6_K"}),
    "Q5_K_M": (17, "Q5_K", {"attn_v": "Q6_K", "ffn_down": "Q6_K", "output": "Q6_K"}),
    "Q6_K": (18, "Q6_K", {}),
}
# Per block type: the byte offsets of its float16 super-block scales (d, then dmin where it has one; layout as in
# gguf's quants.py), the range they are drawn from so that weights stay within ~0.25, and whether d may be
# negative (as llama.cpp's Q3_K and Q6_K make it).
K_SCALES = {
    "Q2_K": ((80, 82), (1e-3, 4e-3), False),  # scales[16] qs[64] d dmin
    "Q3_K": ((108,), (5e-4, 2e-3), True),  # hmask[32] qs[64] scales[12] d
    "Q4_K": ((0, 2), (1e-4, 2.5e-4), False),  # d dmin scales[12] qs[128]
    "Q5_K": ((0, 2), (5e-5, 1.2e-4), False),  # d dmin scales[12] qh[32] qs[128]
    "Q6_K": ((208,), (2e-5, 6e-5), True),  # ql[128] qh[64] scales[16] d (float16 subnormals, as in real files)
}


def k_quant_rows(rng, rows: int, cols: int, kind: str):
    """A valid `kind` tensor of shape (rows, cols) as llama.cpp stores it: uint8 (rows, bytes per row)."""
    import gguf
    import numpy as np

    block, size = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType[kind]]
    assert cols % block == 0, f"{kind} rows must be a multiple of {block} weights"
    n = rows * cols // block
    raw = rng.integers(0, 256, (n, size), dtype=np.uint8)
    offsets, (lo, hi), signed = K_SCALES[kind]
    for off in offsets:
        d = rng.uniform(lo, hi, n) * (rng.choice([-1.0, 1.0], n) if signed else 1.0)
        raw[:, off:off + 2] = d.astype("<f2").view(np.uint8).reshape(n, 2)
    return raw.reshape(rows, cols // block * size)


def _rope_order(rows, n_head: int):
    """The q/k rows in llama.cpp's order for its rope: each head's two halves interleaved, pair by pair (what
    llama.cpp's converter does to a Hugging Face Llama before quantizing; whole rows, so also on quantized rows)."""
    half = rows.shape[0] // n_head // 2
    return rows.reshape(n_head, 2, half, *rows.shape[1:]).swapaxes(1, 2).reshape(rows.shape)


def write_k_quant_llama_gguf(hf_folder: Path, path: Path, mix: str, config: dict, *, seed: int = 0,
                             name: str = "Tiny Llama Instruct") -> dict:
    """A Llama GGUF of `config`'s sizes (rows a multiple of 256), with the tokenizer of `hf_folder`, its 2-D weights
    random blocks of the K-quant `mix` (a K_MIXES key), norms in F32, an untied output layer. Returns each Hugging
    Face weight's name -> (block type, uint8 rows in Hugging Face row order, or float32 for the norms)."""
    import gguf
    import numpy as np

    file_type, base, more = K_MIXES[mix]
    rng = np.random.default_rng(seed)
    h, inter, heads, kv = (config[k] for k in ("hidden_size", "intermediate_size", "num_attention_heads",
                                               "num_key_value_heads"))
    head_dim = h // heads
    w = _llama_writer(hf_folder, path, config, file_type, name=name, license="apache-2.0", chat_template=True)
    wrote = {}

    def add(gguf_name: str, hf_name: str, rows: int, cols: int, layer: int | None = None, n_head: int = 0) -> None:
        kind_of = gguf_name.split(".")[-2]  # blk.0.attn_v.weight -> attn_v; output.weight -> output
        some_layers = kind_of in ("attn_v", "ffn_down")
        kind = base if some_layers and layer != 0 else more.get(kind_of, base)
        data = k_quant_rows(rng, rows, cols, kind)
        wrote[hf_name] = (kind, data)
        w.add_tensor(gguf_name, _rope_order(data, n_head) if n_head else data,
                     raw_dtype=gguf.GGMLQuantizationType[kind])

    def norm(gguf_name: str, hf_name: str) -> None:
        weights = rng.uniform(0.8, 1.2, h).astype(np.float32)
        wrote[hf_name] = ("F32", weights)
        w.add_tensor(gguf_name, weights)

    add("token_embd.weight", "model.embed_tokens.weight", config["vocab_size"], h)
    for i in range(config["num_hidden_layers"]):
        p, hf = f"blk.{i}.", f"model.layers.{i}."
        norm(p + "attn_norm.weight", hf + "input_layernorm.weight")
        add(p + "attn_q.weight", hf + "self_attn.q_proj.weight", heads * head_dim, h, i, n_head=heads)
        add(p + "attn_k.weight", hf + "self_attn.k_proj.weight", kv * head_dim, h, i, n_head=kv)
        add(p + "attn_v.weight", hf + "self_attn.v_proj.weight", kv * head_dim, h, i)
        add(p + "attn_output.weight", hf + "self_attn.o_proj.weight", h, heads * head_dim, i)
        norm(p + "ffn_norm.weight", hf + "post_attention_layernorm.weight")
        add(p + "ffn_gate.weight", hf + "mlp.gate_proj.weight", inter, h, i)
        add(p + "ffn_up.weight", hf + "mlp.up_proj.weight", inter, h, i)
        add(p + "ffn_down.weight", hf + "mlp.down_proj.weight", h, inter, i)
    norm("output_norm.weight", "model.norm.weight")
    add("output.weight", "lm_head.weight", config["vocab_size"], h)
    _finish(w, path)
    return wrote
