"""Guard benchmarks: detection and false-positive rates on labelled data, and latency as a
ratio to a baseline measured in the same run.

    .venv/bin/python benchmarks/guards.py [--rounds 200]

Each section lives in its own module next to this one; this script runs them in order.
"""

from __future__ import annotations

import argparse

import guards_injection


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=200, help="latency runs per measurement")
    args = parser.parse_args()
    if args.rounds < 20:
        parser.error("--rounds must be at least 20 (p95 needs them)")
    # Guards: injection and moderation
    guards_injection.report(rounds=args.rounds)


if __name__ == "__main__":
    main()
