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


# --- every family ---------------------------------------------------------------------------------------------
# A tiny random model of each family localtune supports, saved as a Hugging Face folder (the "original"), and its
# GGUF as llama.cpp writes one: that architecture's tensor names (from the gguf package's own TensorNameMap), the
# value changes llama.cpp's converter makes (Llama's q/k rows in rope order, Gemma's norms stored as 1 + weight,
# Llama 3's rope scaling as a rope_freqs tensor), that family's tokenizer kind (byte-level BPE for Llama 3, SmolLM2
# and Qwen; a sentencepiece-style vocabulary with byte fallback for Mistral, Gemma and Phi-3) and its chat template.

# family -> (GGUF general.architecture, tokenizer.ggml.model, tokenizer.ggml.pre, general.name)
GGUF_FAMILIES = {
    "llama3": ("llama", "gpt2", "llama-bpe", "Tiny Llama 3.2 Instruct"),
    "smollm2": ("llama", "gpt2", "smollm", "Tiny SmolLM2 Instruct"),
    "mistral": ("llama", "llama", None, "Tiny Mistral Instruct v0.3"),
    "qwen2": ("qwen2", "gpt2", "qwen2", "Tiny Qwen2.5 Instruct"),
    "qwen3": ("qwen3", "gpt2", "qwen2", "Tiny Qwen3"),
    "gemma2": ("gemma2", "llama", None, "Tiny Gemma 2 It"),
    "gemma3": ("gemma3", "llama", None, "Tiny Gemma 3 It"),
    "phi3": ("phi3", "llama", None, "Tiny Phi 3.5 Mini Instruct"),
}
# Special tokens of the sentencepiece-style vocabularies, in their families' order (unknown token first)
SPM_SPECIALS = {
    "mistral": ["<unk>", "<s>", "</s>", "[INST]", "[/INST]"],
    "gemma2": ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"],
    "gemma3": ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"],
    "phi3": ["<unk>", "<s>", "</s>", "<|endoftext|>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"],
}
SPM_ROLES = {  # bos, eos, pad, add_bos_token
    "mistral": ("<s>", "</s>", "<unk>", True),
    "gemma2": ("<bos>", "<eos>", "<pad>", True),
    "gemma3": ("<bos>", "<eos>", "<pad>", True),
    "phi3": ("<s>", "<|endoftext|>", "<|endoftext|>", False),
}
K_SIZES = dict(hidden_size=256, intermediate_size=512, num_hidden_layers=2, num_attention_heads=4,
               num_key_value_heads=2, max_position_embeddings=512)  # rows of 256: the K-quants' block (QK_K)


def _spm_tokenizer(family: str, folder: Path):
    """A sentencepiece-style BPE vocabulary (words start with "▁", bytes fall back to <0xNN>) trained on the test
    situations, as the family's transformers tokenizer class."""
    from engine_helpers import SITUATIONS
    from families import FAMILIES
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import GemmaTokenizer, LlamaTokenizer

    specials = SPM_SPECIALS[family]
    byte_tokens = [f"<0x{i:02X}>" for i in range(256)]
    tok = Tokenizer(models.BPE(byte_fallback=True, unk_token=specials[0] if family != "gemma2" else "<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")
    corpus = [s for sit in SITUATIONS for s in sit] + ["Assessment: reasonable problematic mixed system user model"]
    trainer = trainers.BpeTrainer(vocab_size=len(specials) + 256 + 420, special_tokens=specials + byte_tokens,
                                  show_progress=False)
    tok.train_from_iterator(corpus, trainer)
    data = __import__("json").loads(tok.to_str())["model"]
    vocab = data["vocab"]
    merges = [tuple(m) if not isinstance(m, str) else tuple(m.split(" ")) for m in data["merges"]]
    bos, eos, pad, add_bos = SPM_ROLES[family]
    cls = GemmaTokenizer if family.startswith("gemma") else LlamaTokenizer
    extra = {} if family.startswith("gemma") else {"add_prefix_space": True}
    fast = cls(vocab=vocab, merges=merges, bos_token=bos, eos_token=eos, pad_token=pad,
               unk_token="<unk>", add_bos_token=add_bos, **extra)
    fast.add_special_tokens({"additional_special_tokens": [t for t in specials if t not in (bos, eos, pad, "<unk>")]})
    fast.chat_template = FAMILIES[family][2]
    fast.save_pretrained(folder)
    return fast


def family_model(family: str, folder: Path, *, seed: int = 0, std: float = 0.2, **sizes) -> Path:
    """A tiny random model of `family` (families.FAMILIES) with that family's tokenizer kind, sized by K_SIZES (or
    `sizes`), its weights drawn with std `std` and its norms and biases random too (so that an offset or a lost
    bias shows), saved to `folder`."""
    import torch
    import transformers
    from families import FAMILIES
    from families import build as build_family
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    config_name, extra, *_ = FAMILIES[family]
    if GGUF_FAMILIES[family][1] == "llama":
        tok = _spm_tokenizer(family, folder)
    else:
        build_family(family, folder)  # its byte-level BPE tokenizer; the model is replaced below
        tok = AutoTokenizer.from_pretrained(folder)
        for p in folder.glob("*.safetensors"):
            p.unlink()
    s = {**K_SIZES, **sizes}
    extra = dict(extra)
    head_dim = s["hidden_size"] // s["num_attention_heads"]
    if "head_dim" in extra:
        extra["head_dim"] = head_dim
    if "query_pre_attn_scalar" in extra:
        extra["query_pre_attn_scalar"] = head_dim  # llama.cpp scales Gemma's queries by 1/sqrt(head_dim)
    config = getattr(transformers, config_name)(
        vocab_size=len(tok), pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
        bos_token_id=tok.bos_token_id, initializer_range=std, **s, **extra)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim == 1:  # norms around their neutral value (1, or 0 where the model adds the 1), biases around 0
                neutral = 1.0 if name.endswith("norm.weight") and not family.startswith("gemma") else 0.0
                p.copy_(neutral + 0.2 * (torch.rand(p.shape, generator=gen) - 0.5))
    model.save_pretrained(folder)
    return folder


def _rope(config: dict) -> dict:
    return config.get("rope_parameters") or config.get("rope_scaling") or {}


def _llama3_rope_factors(config: dict, head_dim: int):
    """The per-frequency divisors of Llama 3's rope scaling, which llama.cpp stores as the rope_freqs tensor."""
    import numpy as np

    r = _rope(config)
    factor, low, high, old = (r["factor"], r["low_freq_factor"], r["high_freq_factor"],
                              r["original_max_position_embeddings"])
    base = r.get("rope_theta", config.get("rope_theta", 10000.0))
    freqs = 1.0 / base ** (np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)
    wavelen = 2 * np.pi / freqs
    smooth = (old / wavelen - low) / (high - low)
    out = np.where(wavelen < old / high, 1.0, np.where(wavelen > old / low, factor,
                                                       1.0 / ((1 - smooth) / factor + smooth)))
    return out.astype(np.float32)


# Q4_K, written by this helper (the gguf package reads but cannot write it): super-blocks of 256 weights, 8
# sub-blocks of 32 with a 6-bit scale and a 6-bit minimum each, both times a float16 super-block scale (d, dmin),
# and 4-bit values: w = d * scale_j * q - dmin * min_j. The byte layout is what gguf.quants.dequantize reads
# (the tests check the round trip against it).
def quantize_q4_k(weights):
    import numpy as np

    rows, cols = weights.shape
    assert cols % 256 == 0, "Q4_K rows must be a multiple of 256 weights"
    x = weights.astype(np.float32).reshape(-1, 8, 32)  # (super-blocks, sub-blocks, weights)
    lo = np.minimum(x.min(axis=2), 0.0)  # the minimum is stored as a positive offset
    span = np.maximum(x.max(axis=2) - lo, 1e-12)
    scale, offset = span / 15, -lo
    d = (scale.max(axis=1) / 63).astype(np.float16)
    dmin = (offset.max(axis=1) / 63).astype(np.float16)
    df, dminf = d.astype(np.float32)[:, None], dmin.astype(np.float32)[:, None]
    sc = np.clip(np.rint(scale / np.where(df > 0, df, 1)), 1, 63).astype(np.uint8)
    mn = np.clip(np.rint(offset / np.where(dminf > 0, dminf, 1)), 0, 63).astype(np.uint8)
    step = (df * sc)[:, :, None]
    step = np.where(step > 0, step, 1.0)  # an all-zero sub-block (the padding token's embedding)
    q = np.clip(np.rint((x + (dminf * mn)[:, :, None]) / step), 0, 15).astype(np.uint8)
    packed = np.zeros((x.shape[0], 12), np.uint8)
    packed[:, 0:4] = (sc[:, :4] & 63) | ((sc[:, 4:] >> 4) << 6)
    packed[:, 4:8] = (mn[:, :4] & 63) | ((mn[:, 4:] >> 4) << 6)
    packed[:, 8:12] = (sc[:, 4:] & 15) | ((mn[:, 4:] & 15) << 4)
    pairs = q.reshape(-1, 4, 2, 32)  # sub-blocks 2i and 2i+1 share 32 bytes: low and high nibbles
    qs = (pairs[:, :, 0] | (pairs[:, :, 1] << 4)).reshape(-1, 128)
    blocks = np.concatenate([d.view(np.uint8).reshape(-1, 2), dmin.view(np.uint8).reshape(-1, 2), packed, qs], axis=1)
    return blocks.reshape(rows, cols // 256 * 144)


FAMILY_FILE_TYPES = {"F16": 1, "Q8_0": 7, "Q4_K": 14}  # Q4_K: every matrix in Q4_K, as in a "Q4_K_S" file


def write_family_gguf(hf_folder: Path, path: Path, family: str, quant: str = "Q8_0", *,
                      name: str | None = None, architecture: str | None = None) -> Path:
    """`hf_folder` (a family_model) as a llama.cpp-style GGUF of `family`: 2-D weights in `quant` (F16, Q8_0 or
    Q4_K), norms and biases in F32. `architecture` overrides general.architecture (to write a file of an
    architecture localtune does not read)."""
    import gguf
    import numpy as np
    from safetensors.numpy import load_file

    arch, tok_model, pre, default_name = GGUF_FAMILIES[family]
    arch = architecture or arch
    config = json.loads((hf_folder / "config.json").read_text())
    h, heads, kv = config["hidden_size"], config["num_attention_heads"], config["num_key_value_heads"]
    head_dim = config.get("head_dim") or h // heads
    tensors = {}
    for f in sorted(hf_folder.glob("*.safetensors")):
        tensors.update(load_file(f))

    w = gguf.GGUFWriter(str(path), arch)
    w.add_name(name or default_name)
    w.add_license("apache-2.0")
    w.add_file_type(FAMILY_FILE_TYPES[quant])
    w.add_context_length(config["max_position_embeddings"])
    w.add_embedding_length(h)
    w.add_block_count(config["num_hidden_layers"])
    w.add_feed_forward_length(config["intermediate_size"])
    w.add_head_count(heads)
    w.add_head_count_kv(kv)
    w.add_layer_norm_rms_eps(config["rms_norm_eps"])
    w.add_key_length(head_dim)
    w.add_value_length(head_dim)
    w.add_rope_dimension_count(head_dim)
    theta = config.get("rope_theta") or _rope(config).get("rope_theta") \
        or _rope(config).get("full_attention", {}).get("rope_theta")
    if theta:
        w.add_rope_freq_base(float(theta))
    w.add_vocab_size(config["vocab_size"])
    if family == "gemma2":
        w.add_attn_logit_softcapping(config["attn_logit_softcapping"])
        w.add_final_logit_softcapping(config["final_logit_softcapping"])
    if config.get("sliding_window"):
        w.add_sliding_window(config["sliding_window"])
    _family_tokenizer(w, hf_folder, family, tok_model, pre)

    kind = None if quant == "F16" else gguf.GGMLQuantizationType[quant]

    def add(gname: str, array) -> None:
        array = np.asarray(array, dtype=np.float32)
        if array.ndim == 1:
            w.add_tensor(gname, array)
        elif kind is None:
            w.add_tensor(gname, array.astype(np.float16))
        elif quant == "Q4_K":
            w.add_tensor(gname, quantize_q4_k(array), raw_dtype=kind)
        else:
            w.add_tensor(gname, gguf.quants.quantize(array, kind), raw_dtype=kind)

    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH[GGUF_FAMILIES[family][0].upper()],
                                     config["num_hidden_layers"])
    for key, value in tensors.items():
        base, suffix = key.rsplit(".", 1)
        gname = names.get_name(base)
        assert gname is not None, f"no GGUF name for {key} in {arch}"
        if GGUF_FAMILIES[family][0] == "llama" and base.endswith(("q_proj", "k_proj")):
            value = _rope_order(value, heads if base.endswith("q_proj") else kv)
        if family.startswith("gemma") and base.endswith("norm"):
            value = value.astype(np.float32) + 1.0  # llama.cpp stores Gemma's norms as the scale itself
        add(f"{gname}.{suffix}", value)
    rope = _rope(config)
    if rope.get("rope_type") == "llama3":
        w.add_tensor("rope_freqs.weight", _llama3_rope_factors(config, head_dim))
    elif rope.get("rope_type") == "longrope":  # Phi-3's 128k models: the factors as tensors, as llama.cpp keeps them
        w.add_tensor("rope_factors_long.weight", np.asarray(rope["long_factor"], dtype=np.float32))
        w.add_tensor("rope_factors_short.weight", np.asarray(rope["short_factor"], dtype=np.float32))
        w.add_rope_scaling_orig_ctx_len(rope.get("original_max_position_embeddings")
                                        or config["original_max_position_embeddings"])
    full = rope.get("full_attention", rope)  # Gemma 3 keeps one rope per attention kind; the file has the global one
    if full.get("rope_type") in ("linear", "yarn"):
        w.add_rope_scaling_type(gguf.RopeScalingType(full["rope_type"]))
        w.add_rope_scaling_factor(full["factor"])
        if full.get("original_max_position_embeddings"):
            w.add_rope_scaling_orig_ctx_len(full["original_max_position_embeddings"])
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def _family_tokenizer(w, hf_folder: Path, family: str, tok_model: str, pre: str | None) -> None:
    """The tokenizer of `hf_folder` in llama.cpp's metadata: tokens in id order, their types and (sentencepiece)
    scores or (byte-level BPE) merges, the special token ids and the chat template."""
    tok = json.loads((hf_folder / "tokenizer.json").read_text())
    tc = json.loads((hf_folder / "tokenizer_config.json").read_text())
    vocab = dict(tok["model"]["vocab"])
    for t in tok.get("added_tokens", []):
        vocab[t["content"]] = t["id"]
    ordered = sorted(vocab.items(), key=lambda kv: kv[1])
    assert [i for _, i in ordered] == list(range(len(ordered))), "token ids must be dense"
    specials = {t["content"] for t in tok.get("added_tokens", []) if t.get("special")}
    ids = dict(ordered)
    tokens = [t for t, _ in ordered]
    w.add_tokenizer_model(tok_model)
    if tok_model == "gpt2":
        w.add_tokenizer_pre(pre)
        w.add_token_list(tokens)
        w.add_token_types([3 if t in specials else 1 for t in tokens])  # 3 control, 1 normal
        w.add_token_merges([m if isinstance(m, str) else " ".join(m) for m in tok["model"]["merges"]])
    else:  # sentencepiece: scores give the merge order (the vocabulary is in merge order already)
        w.add_token_list(tokens)
        w.add_token_scores([0.0 if t in specials else -float(i) for t, i in ordered])
        w.add_token_types([2 if t == "<unk>" else 3 if t in specials else
                           6 if t.startswith("<0x") and len(t) == 6 else 1 for t in tokens])  # 6 byte
        w.add_unk_token_id(ids["<unk>"])
        w.add_add_bos_token(SPM_ROLES[family][3])
        w.add_add_eos_token(False)
    if tc.get("bos_token"):
        w.add_bos_token_id(ids[tc["bos_token"]])
    w.add_eos_token_id(ids[tc["eos_token"]])
    w.add_pad_token_id(ids[tc["pad_token"]])
    template = tc.get("chat_template")
    if not template and (hf_folder / "chat_template.jinja").is_file():
        template = (hf_folder / "chat_template.jinja").read_text()
    w.add_chat_template(template)
