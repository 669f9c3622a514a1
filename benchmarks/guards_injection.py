"""Injection guard and local moderation: detection, false positives and latency.

Detection and false-positive rates come from ``tests/data/injection_corpus.jsonl``, per
split: the rules were written and the classifier trained on ``train`` only; the held-out
split (``heldout<round>``) was written by a separate author who saw neither, committed
before any tuning and never tuned on, so it is the honest number; ``ordinary`` is everyday
messages (benign only), for the false-positive rate on ordinary traffic (see
``tests/data/make_injection_corpus.py`` for how the splits were made). Rules alone and the
classifier alone are shown beside the combination the guard uses, and the local moderation
rules alone and the whole input pipeline (local moderation, then the injection guard: what
a message meets when no OpenAI key is configured) beside those. Latency is measured on a
4,000-character message of distinct text, as p50/p95 CPU time over many runs, and printed
as a ratio to a naive baseline measured in the same run: ``str.lower`` plus ``in`` over
every rule keyword (what a keyword blocklist would cost). Run through
``benchmarks/guards.py``.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from habla.guards.injection import DEFAULT_THRESHOLD, InjectionDetector
from habla.guards.moderation import LocalModeration

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "injection_corpus.jsonl"
MESSAGE_CHARS = 4_000
PARAGRAPH = (
    "Hi! I am preparing the quarterly report for our Madrid office and I need help with "
    "the summary. Sales grew 12 percent in the north region, the new onboarding process "
    "cut support tickets by a third, and we plan to hire two engineers. Please ignore case "
    "when sorting the customer names, and tell me what the system requirements are for the "
    "desktop app. ¿Puedes también resumir las instrucciones de instalación en español? "
)


def corpus_rows() -> list[dict[str, str]]:
    return [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]


def realistic_message(rows: list[dict[str, str]]) -> str:
    """:data:`PARAGRAPH` and then benign train texts, each once, up to
    :data:`MESSAGE_CHARS`. (One paragraph repeated would time the wrong thing: the
    classifier reads a run of words it has seen before in the same text only once.)"""
    parts = [PARAGRAPH]
    length = len(PARAGRAPH)
    for row in rows:
        if length >= MESSAGE_CHARS:
            break
        if row["split"] == "train" and row["label"] == "benign" and len(row["text"]) >= 200:
            parts.append(row["text"])
            length += len(row["text"])
    return "\n\n".join(parts)[:MESSAGE_CHARS]


Blocks = Callable[[str], bool]  # True when the guard would stop the text


def detection_rates(
    blocks: Blocks, rows: list[dict[str, str]]
) -> dict[str, tuple[float, float, int, int]]:
    """Per split: detection, false positives, attacks, benign rows (``ordinary`` holds
    everyday messages only, so its detection is 0 of 0)."""
    rates: dict[str, tuple[float, float, int, int]] = {}
    # The corpus names its splits (train, this round's held-out split, ordinary) in order;
    # the builder moves them from round to round, so they are read, not listed here.
    for split in dict.fromkeys(row["split"] for row in rows):
        attacks = [r["text"] for r in rows if r["split"] == split and r["label"] == "attack"]
        benign = [r["text"] for r in rows if r["split"] == split and r["label"] == "benign"]
        caught = sum(blocks(t) for t in attacks)
        false = sum(blocks(t) for t in benign)
        detect = caught / len(attacks) if attacks else 0.0
        rates[split] = (detect, false / len(benign), len(attacks), len(benign))
    return rates


def flags(detector: InjectionDetector) -> Blocks:
    return lambda text: detector.scan(text).score >= DEFAULT_THRESHOLD


def parts(detector: InjectionDetector, moderation: LocalModeration) -> dict[str, Blocks]:
    """The guard's detector, its rules and its classifier on their own, the local
    moderation rules on their own, and the input pipeline: moderation, then injection."""
    guard = flags(detector)

    def moderated(text: str) -> bool:
        return moderation.check_text(text).action == "block"

    return {
        "rules + classifier": guard,
        "rules only": flags(InjectionDetector(detector.rules)),
        "classifier only": flags(InjectionDetector((), detector.model)),
        "local moderation only": moderated,
        "pipeline (local moderation, then injection)": lambda t: moderated(t) or guard(t),
    }


def percentiles(run: Callable[[], object], rounds: int) -> tuple[float, float]:
    # CPU time of this thread: "on one core" is the budget, and on a shared machine the
    # wall clock mostly measures how long other jobs held the CPU.
    times = []
    for _ in range(rounds):
        start = time.thread_time()
        run()
        times.append(time.thread_time() - start)
    cuts = statistics.quantiles(times, n=20)
    return statistics.median(times) * 1000, cuts[18] * 1000


def report(rounds: int = 200) -> None:
    detector = InjectionDetector.bundled()
    moderation = LocalModeration.bundled()
    rows = corpus_rows()
    print("Prompt-injection guard, tests/data/injection_corpus.jsonl")
    for name, part in parts(detector, moderation).items():
        print(f"  {name}:")
        for split, (detect, false, attacks, benign) in detection_rates(part, rows).items():
            print(
                f"    {split:8} detection {detect:6.1%} of {attacks} attacks   "
                f"false positives {false:5.1%} of {benign} benign"
            )
    message = realistic_message(rows)
    keywords = sorted({k for rule in detector.rules for k in rule.keywords})

    def baseline() -> bool:
        lowered = message.lower()
        return any(k in lowered for k in keywords)

    base = percentiles(baseline, rounds)
    print(f"Latency on a {MESSAGE_CHARS}-character message, {rounds} runs (p50 / p95):")
    print(
        f"  baseline (lower + 'in' over {len(keywords)} keywords): {base[0]:.2f} / {base[1]:.2f} ms"
    )
    for name, run in (
        ("injection scan", lambda: detector.scan(message)),
        ("local moderation", lambda: moderation.check_text(message)),
    ):
        p50, p95 = percentiles(run, rounds)
        print(
            f"  {name:17} {p50:6.2f} / {p95:6.2f} ms   "
            f"ratio to baseline {p50 / base[0]:5.1f}x / {p95 / base[1]:5.1f}x"
        )
    hostile_report(detector, base[0], max(20, rounds // 10))


# Inputs built to make regexes and decoders work hard: long single-letter runs, one
# keyword repeated, encodings that almost decode.
HOSTILE = {
    "keyword repeated": "ignore all previous ",
    "spaced letters": "a ",
    "morse-like": ".-",
    "base64-like": "QUJD",
    "tool-call-like": "call a_b ",
    "binary-like": "01010101 ",
    "role lines": "system: ",
}


def hostile_report(detector: InjectionDetector, baseline_ms: float, rounds: int) -> None:
    print(f"Hostile {MESSAGE_CHARS}-character inputs, injection scan p50 ({rounds} runs):")
    for name, unit in HOSTILE.items():
        text = (unit * (MESSAGE_CHARS // len(unit) + 1))[:MESSAGE_CHARS]
        p50, _ = percentiles(lambda text=text: detector.scan(text), rounds)  # type: ignore[misc]
        print(f"  {name:17} {p50:6.2f} ms   ratio to baseline {p50 / baseline_ms:5.1f}x")
