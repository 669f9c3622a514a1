"""Trains ``src/habla/guards/data/injection_model.json.gz`` from the injection corpus.

Run it from the repository root after changing the corpus::

    .venv/bin/python tests/data/train_injection_model.py

Only rows with ``split == "train"`` are used; held-out rows never are. The model is
logistic regression (L2, balanced classes) over the features of
:mod:`habla.guards.injection_model`, fitted by L-BFGS (scipy) from zero, so the same corpus
gives the same weights.

Scaling each feature by its log-count ratio before fitting (NBSVM) was tried in round 6
and reverted: it cut cross-validated false positives on near-misses (2.7% → 1.7%) but made
common words that happen to lean towards attacks decisive in short messages ("then" is in
118 training attacks and 22 benign texts: "And then?" scored 0.996).

Long texts are multiple-instance examples: every window of a benign text is a benign
example, but only one window of an attack holds the attack, so the first pass learns from
short texts and each later pass takes, from every long attack, the window the previous
model scores highest. ``--folds K`` prints K-fold cross-validation on the train split
instead of writing the model (how ``C`` and the guard's cut-off were chosen).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from scipy import optimize, sparse

from habla.guards.injection import DEFAULT_THRESHOLD, InjectionDetector
from habla.guards.injection_model import (
    Lexicon,
    NgramModel,
    corpus_digest,
    normaliser,
    window_spans,
    word_features,
    words_of,
)
from habla.guards.normalize import views

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "data" / "injection_corpus.jsonl"
OUT = ROOT / "src" / "habla" / "guards" / "data" / "injection_model.json.gz"
C = 512.0
PASSES = 3
STEPS = 600
PRUNE = 1e-3  # weights smaller than this (in absolute value) are dropped from the file
# L2 strength per feature kind, relative to the rest (by prefix; absent means 1).
# Character grams are many and each is cheap to agree with, so in short texts a few of
# them could outvote the words: "Scrivimi una filastrocca" scored as an attack in round
# 11 on its grams alone. Chosen by cross-validation on round 12's training rows among 1,
# 2, 4, 8, 16 and 32: each stronger one caught more attacks at the same false-positive
# rate (docs/guardrails.md); 16 in round 12, 32 since round 13.
PENALTY: dict[str, float] = {"c:": 32.0}

# A window's n-gram feature counts, and the rules that matched its whole text.
Example = tuple[Counter[str], tuple[str, ...]]


def windows(text: str, lexicon: Lexicon, rules: InjectionDetector) -> list[Example]:
    """Every window of every view of ``text``, as feature counts, with the text's rules."""
    seen = views(text).plain
    matched = tuple(f"r:{rule}" for rule in rules.scan(text).rules)
    found: list[Example] = []
    for view in seen:
        words = words_of(view)
        per_word = word_features(words, lexicon)
        for start, end in window_spans(len(words)):
            found.append((Counter(f for word in per_word[start:end] for f in word), matched))
    return found or [(Counter(), matched)]


def penalties(vocab: dict[str, int], penalty: dict[str, float]) -> np.ndarray:
    """Each feature's L2 multiplier, by the prefix of its name (``c:``, ``w:``…)."""
    scale = np.ones(len(vocab))
    for feature, i in vocab.items():
        scale[i] = penalty.get(feature[:2], 1.0)
    return scale


def fit(
    examples: Sequence[tuple[Example, int]],
    c: float,
    lexicon: Lexicon,
    penalty: dict[str, float] | None = None,
) -> NgramModel:
    vocab: dict[str, int] = {}
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    for i, ((counts, matched), _) in enumerate(examples):
        norm = 1.0 / normaliser(sum(counts.values()))
        for feature, count in counts.items():
            rows.append(i)
            cols.append(vocab.setdefault(feature, len(vocab)))
            vals.append(count * norm)
        for feature in matched:  # text-level, not scaled with the window
            rows.append(i)
            cols.append(vocab.setdefault(feature, len(vocab)))
            vals.append(1.0)
    x = sparse.csr_matrix((vals, (rows, cols)), shape=(len(examples), len(vocab)))
    y = np.array([label for _, label in examples], dtype=float)
    share = y.mean()
    sample = np.where(y == 1, 0.5 / max(share, 1e-9), 0.5 / max(1 - share, 1e-9)) / len(y)
    scale = penalties(vocab, PENALTY if penalty is None else penalty) / (c * len(y))

    def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = params[:-1], params[-1]
        z = x @ w + b
        error = sample * (1.0 / (1.0 + np.exp(-z)) - y)
        value = float(np.sum(sample * (np.logaddexp(0.0, z) - y * z)) + (scale * w) @ w / 2)
        grad = np.concatenate([x.T @ error + scale * w, [error.sum()]])
        return value, grad

    fitted = optimize.minimize(
        loss, np.zeros(len(vocab) + 1), jac=True, method="L-BFGS-B", options={"maxiter": STEPS}
    )
    w, b = fitted.x[:-1], float(fitted.x[-1])
    weights = {f: round(float(w[i]), 4) for f, i in vocab.items() if abs(w[i]) >= PRUNE}
    return NgramModel(round(b, 4), weights, lexicon)


def _logit(model: NgramModel, example: Example) -> float:
    counts, matched = example
    grams = sum(model.weights.get(f, 0.0) * n for f, n in counts.items())
    grams /= normaliser(sum(counts.values()))
    return model.bias + grams + sum(model.weights.get(f, 0.0) for f in matched)


def train(
    rows: Sequence[dict[str, str]],
    c: float = C,
    cache: dict[str, list[Example]] | None = None,
    penalty: dict[str, float] | None = None,
) -> NgramModel:
    lexicon = Lexicon.bundled()
    rules = InjectionDetector(InjectionDetector.bundled_rules())
    cache = {} if cache is None else cache
    windowed = []
    for r in rows:
        if r["text"] not in cache:
            cache[r["text"]] = windows(r["text"], lexicon, rules)
        windowed.append((cache[r["text"]], int(r["label"] == "attack")))
    model: NgramModel | None = None
    for _ in range(PASSES):
        examples: list[tuple[Example, int]] = []
        for found, label in windowed:
            if not label:
                examples.extend((counts, 0) for counts in found)
            elif len(found) == 1:
                examples.append((found[0], 1))
            elif model is not None:
                examples.append((max(found, key=lambda example: _logit(model, example)), 1))
        model = fit(examples, c, lexicon, penalty)
    assert model is not None
    return model


def cross_validate(rows: Sequence[dict[str, str]], folds: int, c: float) -> None:
    """K-fold detection and false-positive rates at several cut-offs, rules alone beside."""
    rules = InjectionDetector(InjectionDetector.bundled_rules())
    cache: dict[str, list[Example]] = {}
    scored: list[tuple[str, float, float]] = []

    def fold_of(row: dict[str, str]) -> int:
        return int(hashlib.sha256(row["text"].encode()).hexdigest(), 16) % folds

    for k in range(folds):
        model = train([r for r in rows if fold_of(r) != k], c, cache)
        for r in rows:
            if fold_of(r) == k:
                found = rules.scan(r["text"])
                seen = views(r["text"]).plain
                scored.append((r["label"], model.probability(seen, found.rules), found.score))
    attacks = [s for s in scored if s[0] == "attack"]
    benign = [s for s in scored if s[0] == "benign"]

    def rates(hit: Callable[[tuple[str, float, float]], bool]) -> str:
        detect = sum(map(hit, attacks)) / len(attacks)
        false = sum(map(hit, benign)) / len(benign)
        return f"detection {detect:6.1%}  false positives {false:5.1%}"

    print(f"C={c:g}, {folds} folds, {len(attacks)} attacks, {len(benign)} benign")
    rules_alone = rates(lambda s: s[2] >= DEFAULT_THRESHOLD)
    print(f"  rules alone (score >= {DEFAULT_THRESHOLD}): {rules_alone}")
    for cutoff in (0.5, 0.7, 0.8, 0.85, 0.9, 0.92, 0.95, 0.96, 0.97, 0.98):
        print(f"  classifier, cut-off {cutoff:.2f}: {rates(lambda s, t=cutoff: s[1] >= t)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folds", type=int, default=0, help="cross-validate instead")
    parser.add_argument("-C", type=float, default=C, help="inverse L2 strength")
    args = parser.parse_args()
    lines = CORPUS.read_text(encoding="utf-8").splitlines()
    rows = [r for r in map(json.loads, lines) if r["split"] == "train"]
    if args.folds:
        cross_validate(rows, args.folds, args.C)
        return
    model = train(rows, args.C)
    digest = corpus_digest(line for line in lines if json.loads(line)["split"] == "train")
    model = NgramModel(model.bias, model.weights, model.lexicon, digest)
    OUT.write_bytes(gzip.compress(model.to_json().encode("utf-8"), mtime=0))
    print(f"wrote {OUT.relative_to(ROOT)}: {len(model.weights)} weights", file=sys.stderr)


if __name__ == "__main__":
    main()
