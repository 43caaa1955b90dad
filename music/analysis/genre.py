"""Genre inferred from audio, with a probability score.

Default: :class:`GenreClassifier`, trained on the catalogue's
``(audio embedding, declared genre)`` pairs (the global genre profiles):
standardised features + multinomial logistic regression.

Calibration for small data: isotonic regression overfits tiny sets, so we
use Platt / sigmoid calibration (``CalibratedClassifierCV(method="sigmoid")``)
and only when every genre has at least ``CALIBRATION_MIN_PER_GENRE`` tracks
(so each of the cross-validation folds sees every genre). Below that, the
L2-regularised logistic regression's own probabilities are used (a logistic
model is sigmoid-calibrated by construction; strong regularisation keeps it
from being over-confident on a handful of points). ``method`` in the
prediction says which applied.

The answer is ``"unknown"`` when the catalogue is too small (fewer than
``min_per_genre`` tracks in at least ``min_genres`` genres) or the best
probability is under ``confidence_floor``.

Optional: :func:`transformers_genre` runs a Hugging Face audio-classification
model (e.g. an AudioSet AST) from a local path when one is configured.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

MIN_PER_GENRE = 2
MIN_GENRES = 2
CONFIDENCE_FLOOR = 0.4
CALIBRATION_MIN_PER_GENRE = 5
C_REGULARISATION = 0.1
TOP_K = 3
_FORMAT = "fala-genre-classifier/1"


class GenreClassifier:
    """Catalogue-trained genre classifier with calibrated probabilities."""

    def __init__(
        self,
        *,
        min_per_genre: int = MIN_PER_GENRE,
        min_genres: int = MIN_GENRES,
        confidence_floor: float = CONFIDENCE_FLOOR,
        top_k: int = TOP_K,
    ) -> None:
        self.min_per_genre = int(min_per_genre)
        self.min_genres = int(min_genres)
        self.confidence_floor = float(confidence_floor)
        self.top_k = int(top_k)
        self.model: Any = None
        self.classes_: list[str] = []
        self.n_samples = 0
        self.method = "none"
        self.dim: int | None = None

    # -- training -----------------------------------------------------------------
    def fit(self, vectors: Sequence[Sequence[float]] | np.ndarray, genres: Sequence[str]) -> GenreClassifier:
        """Train on catalogue pairs. Genres with too few tracks are left out.

        With too little data the classifier stays untrained and predicts
        ``"unknown"``; this is not an error.
        """
        labels = [str(g).strip().lower() for g in genres]
        X = np.asarray(vectors, dtype=np.float64).reshape(len(labels), -1) if labels else np.zeros((0, 0))
        if X.shape[0] != len(labels):
            raise ValueError("vectors and genres differ in length")
        counts = Counter(g for g in labels if g)
        kept = sorted(g for g, c in counts.items() if c >= self.min_per_genre)
        self.n_samples = len(labels)
        self.model, self.classes_, self.method = None, [], "none"
        if len(kept) < self.min_genres:
            self.method = f"untrained: needs >= {self.min_per_genre} tracks in >= {self.min_genres} genres"
            return self
        mask = np.array([g in kept for g in labels])
        X, y = X[mask], np.array(labels)[mask]
        self.dim = X.shape[1]

        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        base = make_pipeline(StandardScaler(), LogisticRegression(C=C_REGULARISATION, max_iter=2000))
        min_count = min(Counter(y).values())
        if min_count >= CALIBRATION_MIN_PER_GENRE:
            folds = min(5, min_count)
            self.model = CalibratedClassifierCV(base, method="sigmoid", cv=folds).fit(X, y)
            self.method = f"standardised+logreg(C={C_REGULARISATION})+platt(cv={folds})"
        else:
            self.model = base.fit(X, y)
            self.method = (
                f"standardised+logreg(C={C_REGULARISATION}), uncalibrated (< {CALIBRATION_MIN_PER_GENRE} per genre)"
            )
        self.classes_ = [str(c) for c in self.model.classes_]
        return self

    # -- inference ------------------------------------------------------------------
    def predict(self, vector: Iterable[float]) -> dict[str, Any]:
        """``{"inferred", "score", "top_k": [[genre, prob], ...], "method", "n_samples"}``.

        ``inferred`` is ``"unknown"`` when untrained or below the confidence
        floor; ``score`` is then the best probability (0.0 when untrained).
        """
        out: dict[str, Any] = {
            "inferred": "unknown",
            "score": 0.0,
            "top_k": [],
            "method": self.method,
            "n_samples": self.n_samples,
        }
        if self.model is None:
            return out
        x = np.asarray(list(vector), dtype=np.float64).reshape(1, -1)
        if x.shape[1] != self.dim:
            raise ValueError(f"vector has {x.shape[1]} dims, classifier expects {self.dim}")
        probs = self.model.predict_proba(x)[0]
        order = np.argsort(-probs)
        out["top_k"] = [[self.classes_[i], round(float(probs[i]), 4)] for i in order[: self.top_k]]
        best = float(probs[order[0]])
        out["score"] = round(best, 4)
        if best >= self.confidence_floor:
            out["inferred"] = self.classes_[order[0]]
        return out

    # -- persistence ----------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """Serialise (joblib pickle). Only load bytes this service wrote itself."""
        import joblib

        buf = io.BytesIO()
        joblib.dump({"format": _FORMAT, "state": self.__dict__.copy()}, buf)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> GenreClassifier:
        import joblib

        payload = joblib.load(io.BytesIO(data))
        if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
            raise ValueError("not a serialised GenreClassifier")
        obj = cls.__new__(cls)
        obj.__dict__.update(payload["state"])
        return obj


def transformers_genre(
    y16k: np.ndarray,
    model_path: str,
    *,
    window_s: float = 10.0,
    top_k: int = TOP_K,
    confidence_floor: float = 0.0,
) -> dict[str, Any]:
    """Audio-classification with a local transformers model (e.g. AudioSet AST).

    Such models see ~10 s, so three ``window_s`` windows at 25 / 50 / 75 % of
    the track are classified and their scores averaged (an intro alone is a
    poor sample of a song). Returns the same shape as
    :meth:`GenreClassifier.predict`, plus ``"model"``.
    """
    clf = _hf_pipeline(model_path)
    sr = 16000
    y = np.asarray(y16k, dtype=np.float32)
    win = int(window_s * sr)
    if y.size <= win:
        windows = [y]
    else:
        centres = [int(y.size * f) for f in (0.25, 0.5, 0.75)]
        windows = [y[max(0, min(c - win // 2, y.size - win)) :][:win] for c in centres]
    totals: dict[str, float] = {}
    for w in windows:
        for r in clf({"raw": w, "sampling_rate": sr}, top_k=None):
            totals[r["label"]] = totals.get(r["label"], 0.0) + float(r["score"]) / len(windows)
    ranked = sorted(totals.items(), key=lambda kv: -kv[1])
    best_label, best = ranked[0] if ranked else ("unknown", 0.0)
    return {
        "inferred": best_label if best >= confidence_floor and ranked else "unknown",
        "score": round(best, 4),
        "top_k": [[k, round(v, 4)] for k, v in ranked[:top_k]],
        "method": f"transformers audio-classification ({len(windows)} x {window_s:g} s windows)",
        "n_samples": None,
        "model": {"name": str(model_path), "version": _transformers_version(), "params": {"window_s": window_s}},
    }


_pipelines: dict[str, Any] = {}


def _hf_pipeline(model_path: str) -> Any:
    from pathlib import Path

    if not Path(model_path).is_dir():
        # A hub id would make transformers download at run time; models are
        # fetched at deploy time and configured as a local directory.
        raise ValueError(f"audio-classification model must be a local directory: {model_path}")
    if model_path not in _pipelines:
        from transformers import pipeline

        _pipelines[model_path] = pipeline("audio-classification", model=model_path, device="cpu")
    return _pipelines[model_path]


def _transformers_version() -> str:
    import transformers

    return str(transformers.__version__)
