"""Injection guard and local moderation: detection, false positives and latency.

Detection and false-positive rates come from ``tests/data/injection_corpus.jsonl``, per
split (rules were tuned on ``train`` only; ``heldout`` is the honest number). Latency is
measured on a 4,000-character message, as p50/p95 over many runs, and printed as a ratio
to a naive baseline measured in the same run: ``str.lower`` plus ``in`` over every rule
keyword (what a keyword blocklist would cost). Run through ``benchmarks/guards.py``.
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


def detection_rates(detector: InjectionDetector) -> dict[str, tuple[float, float, int, int]]:
    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]
    rates: dict[str, tuple[float, float, int, int]] = {}
    for split in ("train", "heldout"):
        attacks = [r["text"] for r in rows if r["split"] == split and r["label"] == "attack"]
        benign = [r["text"] for r in rows if r["split"] == split and r["label"] == "benign"]
        caught = sum(detector.scan(t).score >= DEFAULT_THRESHOLD for t in attacks)
        false = sum(detector.scan(t).score >= DEFAULT_THRESHOLD for t in benign)
        rates[split] = (caught / len(attacks), false / len(benign), len(attacks), len(benign))
    return rates


def percentiles(run: Callable[[], object], rounds: int) -> tuple[float, float]:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    cuts = statistics.quantiles(times, n=20)
    return statistics.median(times) * 1000, cuts[18] * 1000


def report(rounds: int = 200) -> None:
    detector = InjectionDetector.bundled()
    moderation = LocalModeration.bundled()
    print("Prompt-injection guard, tests/data/injection_corpus.jsonl")
    for split, (detect, false, attacks, benign) in detection_rates(detector).items():
        print(
            f"  {split:8} detection {detect:6.1%} of {attacks} attacks   "
            f"false positives {false:5.1%} of {benign} benign"
        )
    message = (PARAGRAPH * (MESSAGE_CHARS // len(PARAGRAPH) + 1))[:MESSAGE_CHARS]
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
