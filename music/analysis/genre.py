"""Genre inferred from audio, with a probability score.

Default: :class:`GenreClassifier`, trained on the catalogue's
``(audio descriptor, declared genre)`` pairs (the global genre profiles):

1. Every dimension is standardised on the catalogue, then multiplied by its
   descriptor block's weight 1/sqrt(block size)
   (:func:`music.analysis.embeddings.block_weights`), so a 96-d fluctuation
   pattern and a 9-d spectral summary pull equally on the model; vectors of
   another size are only standardised.
2. Multinomial logistic regression, L2-regularised with sklearn's default
   ``C = 1`` (fixed: not tuned on the evaluation set). With a few tracks per
   genre and ~500 dimensions the training set is separable, so the raw
   probabilities are over-confident.
3. Calibration by temperature scaling: out-of-fold decision scores from a
   stratified k-fold inside the catalogue (k = min(5, smallest genre)) fit
   one temperature T by minimum log-loss (Platt's smoothed targets, so a
   perfect out-of-fold record on a tiny catalogue does not mean certainty);
   the final model is trained on the
   whole catalogue and predicts softmax(scores / T). One parameter cannot
   overfit a small catalogue the way per-class Platt or isotonic maps do,
   and it never changes the ranking. ``method`` in the prediction records T
   and the folds.

The answer is ``"unknown"`` when the catalogue is too small (fewer than
``min_per_genre`` tracks in at least ``min_genres`` genres) or the best
probability is under ``confidence_floor``. On the GTZAN dev set (10 genres x
5 clips, leave-one-clip-out; see ``bench/bench_genre.py`` and
``docs/music-analysis.md``) the floor of 0.4 keeps confident answers right
far more often than wrong.

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
C_REGULARISATION = 1.0
CALIBRATION_MAX_FOLDS = 5
TOP_K = 3
FORMAT = "fala-genre-classifier/2"


class _TemperedLogReg:
    """Standardise, weight blocks, logistic regression, softmax(scores / T).

    The weighted, standardised training vectors are projected onto the
    subspace they span (SVD; at most n-1 dimensions for n tracks). With an
    L2 penalty and an intercept the logistic-regression weights lie in that
    subspace anyway (representer theorem), so the model is the same but is
    solved in ~n instead of ~500 dimensions (about 10x faster; the
    leave-one-out evaluation fits hundreds of them).
    """

    def __init__(self, weights: np.ndarray | None, c: float = C_REGULARISATION) -> None:
        self.weights = weights
        self.c = c
        self.temperature = 1.0
        self.scaler: Any = None
        self.basis: np.ndarray = np.zeros((0, 0))
        self.logreg: Any = None
        self.classes_: np.ndarray = np.array([])

    def _weighted(self, X: np.ndarray) -> np.ndarray:
        Z = self.scaler.transform(X)
        return Z * self.weights if self.weights is not None else Z

    def fit(self, X: np.ndarray, y: np.ndarray) -> _TemperedLogReg:
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler
        from threadpoolctl import threadpool_limits

        self.scaler = StandardScaler().fit(X)
        Z = self._weighted(X)
        with threadpool_limits(1):  # tiny problems: BLAS threads only add overhead on a busy host
            _, sv, vt = np.linalg.svd(Z, full_matrices=False)
            self.basis = vt[sv > 1e-9 * max(float(sv[0]), 1e-300)] if sv.size else vt
            self.logreg = LogisticRegression(C=self.c, max_iter=5000).fit(Z @ self.basis.T, y)
        self.classes_ = self.logreg.classes_
        return self

    def scores(self, X: np.ndarray) -> np.ndarray:
        """Per-class decision scores (n, classes); a binary model's score becomes [0, s]."""
        feats = self._weighted(X) @ self.basis.T
        d = np.asarray(self.logreg.decision_function(feats), dtype=np.float64)
        return np.column_stack([np.zeros_like(d), d]) if d.ndim == 1 else d

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return _softmax(self.scores(X) / self.temperature)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True))


def fit_temperature(scores: np.ndarray, labels: np.ndarray) -> float:
    """The T in [0.05, 100] minimising the cross-entropy of softmax(scores / T).

    ``labels`` are column indices. The targets are smoothed as in Platt
    (1999): the true class gets 1 - 1/(n + 2) and the others share the rest,
    so a small catalogue whose out-of-fold answers happen to be all right
    does not drive T to 0 (certainty); with n tracks the model is at most
    about as sure as n + 1 successes in n + 2 trials warrant.
    """
    from scipy.optimize import minimize_scalar

    n, k = scores.shape
    eps = 1.0 / (n + 2)
    targets = np.full((n, k), eps / max(k - 1, 1))
    targets[np.arange(n), labels] = 1.0 - eps

    def loss(log_t: float) -> float:
        p = _softmax(scores / np.exp(log_t))
        return float(-(targets * np.log(np.maximum(p, 1e-12))).sum(axis=1).mean())

    res = minimize_scalar(loss, bounds=(np.log(0.05), np.log(100.0)), method="bounded")
    return float(np.exp(res.x))


def _out_of_fold_scores(X: np.ndarray, y: np.ndarray, weights: np.ndarray | None, folds: int) -> np.ndarray:
    """Decision scores of each track by a model that did not see it (stratified k-fold, fixed seed)."""
    from sklearn.model_selection import StratifiedKFold

    classes = np.unique(y)
    out = np.zeros((len(y), len(classes)))
    for train, test in StratifiedKFold(n_splits=folds, shuffle=True, random_state=0).split(X, y):
        m = _TemperedLogReg(weights).fit(X[train], y[train])
        cols = np.searchsorted(classes, m.classes_)
        out[np.ix_(test, cols)] = m.scores(X[test])
    return out


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

        from music.analysis.embeddings import block_weights

        weights = block_weights(self.dim)
        model = _TemperedLogReg(weights).fit(X, y)
        folds = min(CALIBRATION_MAX_FOLDS, min(Counter(y).values()))
        oof = _out_of_fold_scores(X, y, weights, folds)
        model.temperature = fit_temperature(oof, np.searchsorted(model.classes_, y))
        self.model = model
        blocks = "block-weighted " if weights is not None else ""
        self.method = (
            f"standardised {blocks}logreg(C={C_REGULARISATION:g})+temperature(T={model.temperature:.2f}, cv={folds})"
        )
        self.classes_ = [str(c) for c in model.classes_]
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
        joblib.dump({"format": FORMAT, "state": self.__dict__.copy()}, buf)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> GenreClassifier:
        import joblib

        payload = joblib.load(io.BytesIO(data))
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            raise ValueError("not a serialised GenreClassifier")
        obj = cls.__new__(cls)
        obj.__dict__.update(payload["state"])
        return obj


def leave_one_out(
    vectors: Sequence[Sequence[float]] | np.ndarray,
    genres: Sequence[str],
    *,
    confidence_floor: float = CONFIDENCE_FLOOR,
    n_bins: int = 10,
) -> dict[str, Any]:
    """Leave-one-track-out evaluation of :class:`GenreClassifier` on a labelled catalogue.

    Each track is classified by a classifier trained (and calibrated) on all
    the others, so nothing about it leaks into its own answer. Returns
    ``{"n", "top1", "top3", "per_genre": {genre: top-1}, "floor",
    "confident_right", "confident_wrong", "unknown", "ece", "predictions"}``;
    top-k are fractions, ``ece`` is the expected calibration error of the top
    probability over ``n_bins`` equal-width bins.
    """
    X = np.asarray(vectors, dtype=np.float64)
    labels = [str(g).strip().lower() for g in genres]
    preds: list[dict[str, Any]] = []
    for i in range(len(labels)):
        keep = np.arange(len(labels)) != i
        clf = GenreClassifier(confidence_floor=confidence_floor).fit(
            X[keep], [g for g, k in zip(labels, keep, strict=True) if k]
        )
        p = clf.predict(X[i])
        preds.append({"genre": labels[i], "top_k": p["top_k"], "inferred": p["inferred"], "score": p["score"]})
    hits1 = [bool(p["top_k"]) and p["top_k"][0][0] == p["genre"] for p in preds]
    hits3 = [p["genre"] in [g for g, _ in p["top_k"][:3]] for p in preds]
    per_genre: dict[str, float] = {}
    for g in sorted(set(labels)):
        idx = [i for i, lab in enumerate(labels) if lab == g]
        per_genre[g] = round(sum(hits1[i] for i in idx) / len(idx), 4)
    conf = np.array([p["score"] for p in preds])
    right = np.array(hits1, dtype=bool)
    ece = 0.0
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        sel = (conf > lo) & (conf <= hi) if lo > 0 else (conf >= lo) & (conf <= hi)
        if sel.any():
            ece += sel.mean() * abs(float(conf[sel].mean()) - float(right[sel].mean()))
    n = max(len(preds), 1)
    return {
        "n": len(preds),
        "top1": round(sum(hits1) / n, 4),
        "top3": round(sum(hits3) / n, 4),
        "per_genre": per_genre,
        "floor": confidence_floor,
        "confident_right": sum(1 for p, h in zip(preds, hits1, strict=True) if p["inferred"] != "unknown" and h),
        "confident_wrong": sum(1 for p, h in zip(preds, hits1, strict=True) if p["inferred"] != "unknown" and not h),
        "unknown": sum(1 for p in preds if p["inferred"] == "unknown"),
        "ece": round(float(ece), 4),
        "mean_score": round(float(conf.mean()) if conf.size else 0.0, 4),
        "predictions": preds,
    }


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
