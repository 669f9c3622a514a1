"""A small linear classifier over word and character n-grams: the injection guard's second signal.

The rules in ``data/injection_rules.toml`` catch the phrasings they describe; this model
catches paraphrases of them. It is logistic regression over explicit features of a
normalised view (see :mod:`habla.guards.normalize`): every word, every pair of adjacent
words, the 3- to 5-character pieces of each word, and the word classes of
``data/injection_lexicon.toml`` alone and in pairs a few words apart — the classes are
what let it generalise from "ignore your rules" to "descarta tus directrices". Its
weights live in ``data/injection_model.json.gz``, trained from
``tests/data/injection_corpus.jsonl`` by ``tests/data/train_injection_model.py``; the file
records the digests of the corpus and lexicon it was trained with so a test notices
either changed without retraining.

A long message is scored in overlapping windows of 40 words and the highest window wins,
so an instruction buried in a long pasted document is not diluted by the document around
it (within its own window, the words around it still weigh in). Each word's own features
are summed once and windows are summed from running totals, so the cost is linear in the
text: no numpy, a few milliseconds for 4,000 characters.

It does not decide anything on its own (the guard combines its probability with the rule
score) and it never sees the model's reply.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from habla.core.errors import ConfigError
from habla.guards.bundled import data_file, data_text, parse_toml

# (words, stride) of the windows a text is scored in. Adding 16-word windows caught more
# short buried instructions but cost more false positives than it gained (5-fold CV).
WINDOWS = ((40, 20),)
WINDOW_WORDS = WINDOWS[0][0]
CHAR_GRAMS = (3, 4, 5)
# A window's feature sum is divided by its feature count to this power (see normaliser).
# 1 (the mean) flagged 5-6% of ordinary short messages in cross-validation instead of
# 0.3%. With 0.5 a repeated paragraph would push a window's score out; runs of words seen
# before are read once instead (without_repeats).
NORM_POWER = 0.5
# ...and that count is at least this many: a message of a word or two ("talk", "And
# then?") carries little evidence, and with the plain count a couple of common words
# that lean towards attacks in the corpus crossed the cut-off (no training attack is
# that short). Texts of about four words and more are scored as before.
MIN_NORM_FEATURES = 64
# Character pieces come from at most this many letters of a word: longer "words" are
# base64 blobs, joined spaced-out letters or URLs, and would cost thousands of pieces.
MAX_GRAM_CHARS = 32
# A class pair is two classed words at most this many words apart ("drop ... rules").
PAIR_REACH = 4
MIN_STEM = 4
FORMAT_VERSION = 1
_WORD = re.compile(r"\w+")
# A view longer than this many words is cut: the rules still see all of it, and an
# attack hidden past 20,000 words of a single message is the rules' job.
MAX_WORDS = 20_000
# A run of this many words seen before in the same view is a copy (see without_repeats).
REPEAT_RUN = 6


@dataclass(frozen=True, slots=True)
class Lexicon:
    """Word classes by exact word and by stem (see ``data/injection_lexicon.toml``)."""

    words: Mapping[str, tuple[str, ...]]
    stems: Mapping[str, tuple[str, ...]]
    sha256: str = ""

    @classmethod
    def bundled(cls) -> Lexicon:
        return cls.from_toml(data_text("injection_lexicon.toml"))

    @classmethod
    def from_toml(cls, text: str) -> Lexicon:
        classes = parse_toml(text, "the injection lexicon").get("class")
        if not isinstance(classes, dict) or not classes:
            raise ConfigError("the injection lexicon needs at least one [class.NAME] table")
        words: dict[str, list[str]] = {}
        stems: dict[str, list[str]] = {}
        for name, table in classes.items():
            if not isinstance(table, dict) or set(table) - {"words", "stems"}:
                raise ConfigError(f"lexicon class {name}: only 'words' and 'stems' lists")
            for key, into in (("words", words), ("stems", stems)):
                entries = table.get(key, [])
                if not isinstance(entries, list) or not all(
                    isinstance(e, str) and e == e.lower() and e.isalnum() for e in entries
                ):
                    raise ConfigError(f"lexicon class {name}: {key} must be lower-case words")
                if key == "stems" and any(len(e) < MIN_STEM for e in entries):
                    raise ConfigError(f"lexicon class {name}: stems need {MIN_STEM}+ letters")
                for entry in entries:
                    into.setdefault(entry, []).append(name)
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        return cls(
            {w: tuple(c) for w, c in words.items()},
            {s: tuple(c) for s, c in stems.items()},
            digest,
        )

    def classes(self, word: str) -> tuple[str, ...]:
        found = list(self.words.get(word, ()))
        for end in range(MIN_STEM, len(word) + 1):
            found.extend(self.stems.get(word[:end], ()))
        return tuple(dict.fromkeys(found))


def own_features(word: str, lexicon: Lexicon) -> tuple[list[str], tuple[str, ...]]:
    """What a word contributes whatever surrounds it (itself, its character pieces, its
    classes), and its classes."""
    padded = f" {word[:MAX_GRAM_CHARS]} "
    found = [f"w:{word}"]
    for size in CHAR_GRAMS:
        found.extend(f"c:{padded[i : i + size]}" for i in range(len(padded) - size + 1))
    classes = lexicon.classes(word)
    found.extend(f"k:{name}" for name in classes)
    return found, classes


def context_features(
    previous: str, word: str, classes: tuple[str, ...], recent: Sequence[tuple[str, ...]]
) -> list[str]:
    """What a word contributes with the words before it: the pair it ends, and the class
    pairs it closes with the classed words up to :data:`PAIR_REACH` back."""
    found = [f"b:{previous} {word}"] if previous else []
    for name in classes:
        found.extend(f"p:{before} {name}" for earlier in recent for before in earlier)
    return found


def word_features(words: Sequence[str], lexicon: Lexicon) -> list[list[str]]:
    """Every feature each word contributes, in order (what the trainer counts)."""
    out: list[list[str]] = []
    recent: list[tuple[str, ...]] = []
    previous = ""
    for word in words:
        found, classes = own_features(word, lexicon)
        found.extend(context_features(previous, word, classes, recent))
        recent = [*recent[-(PAIR_REACH - 1) :], classes]
        out.append(found)
        previous = word
    return out


def normaliser(features: int) -> float:
    """What a window's feature sum is divided by (the guard and the trainer both use it)."""
    return float(max(MIN_NORM_FEATURES, features) ** NORM_POWER)


def words_of(view: str) -> list[str]:
    return without_repeats(_WORD.findall(view)[:MAX_WORDS])


def without_repeats(words: list[str]) -> list[str]:
    """``words`` without the second and later copies of any run of :data:`REPEAT_RUN`
    words: a paragraph pasted twice reads as once, so repetition cannot push a window's
    score out (the sum grows with the copies, the normaliser only with their root)."""
    if len(words) < 2 * REPEAT_RUN:
        return words
    first: dict[tuple[str, ...], int] = {}
    repeated = [False] * len(words)
    for start in range(len(words) - REPEAT_RUN + 1):
        run = tuple(words[start : start + REPEAT_RUN])
        seen = first.setdefault(run, start)
        if seen + REPEAT_RUN <= start:
            repeated[start : start + REPEAT_RUN] = [True] * REPEAT_RUN
    return [word for word, copy in zip(words, repeated, strict=True) if not copy]


def window_spans(count: int) -> list[tuple[int, int]]:
    """``[start, end)`` word spans covering ``count`` words: overlapping windows of every
    size in :data:`WINDOWS`."""
    spans: list[tuple[int, int]] = []
    for size, stride in WINDOWS:
        if count <= size:
            if count and (0, count) not in spans:
                spans.append((0, count))
            continue
        spans.extend((start, start + size) for start in range(0, count - size, stride))
        spans.append((count - size, count))
    return spans


def corpus_digest(lines: Iterable[str]) -> str:
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line.strip().encode("utf-8") + b"\n")
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class NgramModel:
    """Logistic regression weights by feature; stateless and thread-safe."""

    bias: float
    weights: Mapping[str, float]
    lexicon: Lexicon
    corpus_sha256: str = ""
    # The own-feature sum of each word seen in training, filled as words come up: scoring
    # then costs one lookup per known word instead of a dozen. Bounded by the training
    # vocabulary (other words are summed per call), and a value, once there, never changes,
    # so threads sharing a model may race to fill it harmlessly.
    _known: dict[str, tuple[float, int, tuple[str, ...]]] = field(
        default_factory=dict, compare=False, repr=False
    )

    @classmethod
    def bundled(cls) -> NgramModel:
        """The model shipped in the package, loaded once per process (see :func:`_bundled`)."""
        return _bundled()

    @classmethod
    def from_json(cls, text: str, lexicon: Lexicon) -> NgramModel:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"the injection model is not valid JSON: {exc}") from exc
        if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
            raise ConfigError(f"the injection model must be a version {FORMAT_VERSION} object")
        bias, weights = data.get("bias"), data.get("weights")
        if not isinstance(bias, int | float) or not isinstance(weights, dict) or not weights:
            raise ConfigError("the injection model needs a numeric bias and a weights table")
        if not all(isinstance(w, int | float) and math.isfinite(w) for w in weights.values()):
            raise ConfigError("the injection model's weights must be finite numbers")
        if data.get("lexicon_sha256") != lexicon.sha256:
            raise ConfigError("the injection model was trained with another lexicon: retrain it")
        return cls(float(bias), weights, lexicon, str(data.get("corpus_sha256", "")))

    def to_json(self) -> str:
        return json.dumps(
            {
                "version": FORMAT_VERSION,
                "corpus_sha256": self.corpus_sha256,
                "lexicon_sha256": self.lexicon.sha256,
                "bias": self.bias,
                "weights": dict(sorted(self.weights.items())),
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )

    def probability(self, views: Sequence[str], rules: Iterable[str] = ()) -> float:
        """The highest attack probability of any window of any view, given the ids of the
        rules that matched the whole text (each has a learnt weight, added to every window:
        the model learns how far to trust a rule and in what company)."""
        best = -math.inf
        for view in views:
            best = max(best, self._best_logit(words_of(view)))
        if best == -math.inf:
            best = self.bias
        best += sum(self.weights.get(f"r:{rule}", 0.0) for rule in rules)
        return 1.0 / (1.0 + math.exp(-min(50.0, max(-50.0, best))))  # exp() overflows past 709

    def _best_logit(self, words: Sequence[str]) -> float:
        weights = self.weights
        # A word's own features are the same wherever it occurs: sum them once per word.
        known = self._known
        unknown: dict[str, tuple[float, int, tuple[str, ...]]] = {}
        sums = [0.0]
        counts = [0]
        recent: list[tuple[str, ...]] = []
        previous = ""
        for word in words:
            total, count, classes = known.get(word) or unknown.get(word) or self._own(word, unknown)
            context = context_features(previous, word, classes, recent)
            sums.append(sums[-1] + total + sum(weights.get(f, 0.0) for f in context))
            counts.append(counts[-1] + count + len(context))
            recent = [*recent[-(PAIR_REACH - 1) :], classes]
            previous = word
        best = -math.inf
        for start, end in window_spans(len(words)):
            size = normaliser(counts[end] - counts[start])
            best = max(best, self.bias + (sums[end] - sums[start]) / size)
        return best

    def _own(
        self, word: str, unknown: dict[str, tuple[float, int, tuple[str, ...]]]
    ) -> tuple[float, int, tuple[str, ...]]:
        found, classes = own_features(word, self.lexicon)
        entry = (sum(self.weights.get(f, 0.0) for f in found), len(found), classes)
        (self._known if f"w:{word}" in self.weights else unknown)[word] = entry
        return entry


@functools.cache
def _bundled() -> NgramModel:
    # Parsing a quarter of a million weights takes a noticeable fraction of a second, and
    # every app a process builds needs the same read-only model: load the package's own
    # file once. (A model from anywhere else is built with NgramModel.from_json.)
    text = gzip.decompress(data_file("injection_model.json.gz")).decode("utf-8")
    return NgramModel.from_json(text, Lexicon.bundled())
