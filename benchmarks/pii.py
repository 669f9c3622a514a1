"""PII detection: recall and precision on synthetic data, and latency against a baseline.

Data: sentences in several languages with entities that Faker generates in several locales
(en_US, en_GB, es_ES, es_MX, de_DE, fr_FR, it_IT, nl_NL), secrets built in the formats
real providers use, hand-written edge cases (odd spacing, case, punctuation) and sentences
with look-alikes that must not be masked (order numbers, versions, dates, prices, wrong
check digits). Seeded: every run sees the same data.

- recall: an entity counts as found when a span of the same label covers at least
  ``COVER`` of its characters (what masking needs: the value no longer readable).
- precision: predicted spans that overlap a planted entity of the same label / all spans.
- latency: the detector per message against a baseline measured in the same run (one
  compiled regex scan of the same texts), printed as a ratio; absolute times are only
  for orientation.

    .venv/bin/python benchmarks/pii.py [--per-kind 60] [--seed 7]

Aim: recall >= 0.95 overall. Exits non-zero if that aim is missed.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import re
import statistics
import string
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from faker import Faker

from habla.guards.pii import PiiDetector
from habla.guards.pii_checks import curp_check_digit, rfc_check_char

LOCALES = ("en_US", "en_GB", "es_ES", "es_MX", "de_DE", "fr_FR", "it_IT", "nl_NL")
COVER = 0.8
AIM = 0.95

TEMPLATES = {
    "EMAIL": ["Write to {} please.", "Mi correo es {}", "Meine E-Mail: <{}>", "Courriel : {}."],
    "PHONE": ["Call me on {}.", "Mi teléfono es el {}", "Tel. {}", "Appelez le {} demain."],
    "CREDIT_CARD": ["Card number {} exp 04/29", "Pago con la tarjeta {}.", "Karte: {}"],
    "IBAN": ["IBAN: {}", "Transfiere a {} hoy.", "Bitte überweisen an {}."],
    "IP_ADDRESS": ["The server at {} is down.", "Acceso desde la IP {}.", "IP={}"],
    "ES_DNI": ["Mi DNI es {}.", "DNI: {}", "con documento {} y firma"],
    "ES_NIE": ["Mi NIE es {}.", "NIE {} (residente)"],
    "MX_CURP": ["Mi CURP es {}.", "CURP: {}"],
    "MX_RFC": ["RFC {} para la factura.", "Facturar al RFC: {}"],
    "SECRET": ["my key is {}", "export TOKEN={}", "use {} for the deploy", "config: {}"],
}

NEGATIVES = [
    "Order 12345678A ships on 2024-05-17 at 14:30.",
    "Version 10.2.3.4 fixed the login bug; build 4521 is next.",
    "The total is 1,234.56 EUR, paid 2024-01-31.",
    "Ticket #88231 — reference ABCD123456 was closed.",
    "Card 4111 1111 1111 1112 was declined (bad checksum).",
    "CURP HEGG560427MVZRRL05 is wrong (bad check digit).",
    "Use scikit-learn (sk-learn) 1.5 with numpy 2.0.",
    "Please ignore case when sorting the list of 250 names.",
    "The meeting is in room 3.14 on floor 2, from 9 to 11.",
    "ISBN 978-3-16-148410-0 is on the shelf.",
    "Call it v1.0.0; the next one is 1.0.1.",
    "Temperatures ranged from -3 to 12 degrees over 30 days.",
]

EDGE_CASES: list[tuple[str, str, str]] = [
    ("EMAIL", "Mail ME at {}!", "First.Last+tag@sub.example.co.uk"),
    ("EMAIL", "({})", "o'neil@example.ie"),
    ("PHONE", "Ring {} now", "+1 (415) 555-2671"),
    ("PHONE", "Tel.: {}.", "+34 600 12 34 56"),
    ("PHONE", "Número: {}", "+52 55 1234 5678"),
    ("CREDIT_CARD", "card={}", "4111-1111-1111-1111"),
    ("CREDIT_CARD", "amex {} ok", "3782 822463 10005"),
    ("IBAN", "iban {}", "es91 2100 0418 4502 0005 1332"),
    ("IBAN", "IBAN:{}", "DE89370400440532013000"),
    ("IP_ADDRESS", "from {}.", "10.0.0.1"),
    ("IP_ADDRESS", "v6 {} here", "2001:db8:85a3::8a2e:370:7334"),
    ("ES_DNI", "dni {}", "12345678-z"),
    ("ES_DNI", "DNI {}.", "00000000T"),
    ("ES_NIE", "nie: {}", "x-1234567-l"),
    ("MX_CURP", "curp {}", "hegg560427mvzrrl04"),
    ("MX_RFC", "RFC: {}", "SAT970701NN3"),
]


@dataclass(frozen=True)
class Sample:
    text: str
    entities: tuple[tuple[str, int, int], ...]  # (label, start, end)


def _token(
    rng: random.Random, size: int, alphabet: str = string.ascii_letters + string.digits
) -> str:
    return "".join(rng.choice(alphabet) for _ in range(size))


def _jwt(rng: random.Random) -> str:
    def part(obj: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    claims = {"sub": str(rng.randint(1, 10**9)), "exp": rng.randint(10**9, 2 * 10**9)}
    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.{_token(rng, 43)}"


def _secret(rng: random.Random) -> str:
    makers: list[Callable[[], str]] = [
        lambda: "sk-proj-" + _token(rng, 48),
        lambda: "sk-" + _token(rng, 48),
        lambda: "AKIA" + _token(rng, 16, string.ascii_uppercase + string.digits),
        lambda: "ghp_" + _token(rng, 36),
        lambda: "github_pat_" + _token(rng, 22) + "_" + _token(rng, 59),
        lambda: (
            "xoxb-"
            + "-".join(_token(rng, 12, string.digits) for _ in range(2))
            + "-"
            + _token(rng, 24)
        ),
        lambda: _jwt(rng),
        lambda: "AIza" + _token(rng, 35),
    ]
    return rng.choice(makers)()


def _curp(rng: random.Random, fake: Faker) -> str:
    letters = string.ascii_uppercase
    birth = fake.date_of_birth(minimum_age=1, maximum_age=90)
    body = (
        rng.choice("BCDFGHJKLMNPRSTVZ")
        + rng.choice("AEIOU")
        + _token(rng, 2, letters)
        + birth.strftime("%y%m%d")
        + rng.choice("HM")
        + rng.choice(["DF", "JC", "NL", "VZ", "YN"])
        + _token(rng, 3, "BCDFGHJKLMNPQRSTVWXZ")
        + (rng.choice(string.digits) if birth.year < 2000 else rng.choice(letters))
    )
    return body + str(curp_check_digit(body))


def _rfc(rng: random.Random, fake: Faker) -> str:
    letters = string.ascii_uppercase
    size = rng.choice([3, 4])
    birth = fake.date_of_birth(minimum_age=1, maximum_age=90)
    body = _token(rng, size, letters) + birth.strftime("%y%m%d")
    body += _token(rng, 2, letters + string.digits)
    return body + rfc_check_char(body)


def _value(label: str, fake: Faker, rng: random.Random) -> str:
    if label == "EMAIL":
        return rng.choice([fake.email, fake.free_email, fake.company_email])()
    if label == "PHONE":
        return str(fake.phone_number())
    if label == "CREDIT_CARD":
        number = fake.credit_card_number()
        return " ".join(re.findall(".{1,4}", number)) if rng.random() < 0.5 else number
    if label == "IBAN":
        iban = fake.iban()
        return " ".join(re.findall(".{1,4}", iban)) if rng.random() < 0.5 else iban
    if label == "IP_ADDRESS":
        return fake.ipv4() if rng.random() < 0.8 else fake.ipv6()
    if label == "ES_DNI":
        return Faker("es_ES").nif()
    if label == "ES_NIE":
        return Faker("es_ES").nie()
    if label == "MX_CURP":
        return _curp(rng, fake)
    if label == "MX_RFC":
        return _rfc(rng, fake)
    return _secret(rng)


def generate(per_kind: int, seed: int) -> list[Sample]:
    rng = random.Random(seed)
    fakers = {locale: Faker(locale) for locale in LOCALES}
    for index, fake in enumerate(fakers.values()):
        fake.seed_instance(seed + index)
    Faker.seed(seed)
    samples: list[Sample] = []
    for label, templates in TEMPLATES.items():
        for _ in range(per_kind):
            fake = fakers[rng.choice(LOCALES)]
            value = _value(label, fake, rng)
            template = rng.choice(templates)
            start = template.index("{}")
            samples.append(Sample(template.format(value), ((label, start, start + len(value)),)))
    for label, template, value in EDGE_CASES:
        start = template.index("{}")
        samples.append(Sample(template.format(value), ((label, start, start + len(value)),)))
    fake = fakers["en_US"]
    samples += [Sample(text, ()) for text in NEGATIVES]
    samples += [Sample(fake.paragraph(nb_sentences=3), ()) for _ in range(per_kind)]
    return samples


def _covered(entity: tuple[str, int, int], spans: list[tuple[str, int, int]]) -> bool:
    label, start, end = entity
    hit = set()
    for span_label, s, e in spans:
        if span_label == label:
            hit.update(range(max(s, start), min(e, end)))
    return len(hit) >= COVER * (end - start)


def evaluate(detector: PiiDetector, samples: list[Sample]) -> dict[str, Counter[str]]:
    stats: dict[str, Counter[str]] = defaultdict(Counter)
    for sample in samples:
        spans = [(s.label, s.start, s.end) for s in detector.find(sample.text)]
        for entity in sample.entities:
            stats[entity[0]]["planted"] += 1
            stats[entity[0]]["found"] += _covered(entity, spans)
        for span in spans:
            stats[span[0]]["predicted"] += 1
            true = any(
                e[0] == span[0] and e[1] < span[2] and span[1] < e[2] for e in sample.entities
            )
            stats[span[0]]["correct"] += true
            if not true:
                stats[span[0]]["false_positive"] += 1
    return stats


def latency(detector: PiiDetector, texts: list[str], rounds: int) -> tuple[float, float]:
    baseline_re = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+|\+?\d[\d ()-]{7,}\d")
    detector_times: list[float] = []
    baseline_times: list[float] = []
    for _ in range(rounds):  # interleaved, so both see the same machine load
        start = time.perf_counter()
        for text in texts:
            detector.analyze(text)  # uncached: every round does the work
        detector_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        for text in texts:
            baseline_re.findall(text)
        baseline_times.append(time.perf_counter() - start)
    return statistics.median(detector_times), statistics.median(baseline_times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-kind", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    detector = PiiDetector()
    samples = generate(args.per_kind, args.seed)
    stats = evaluate(detector, samples)
    total: Counter[str] = Counter()
    print(f"{'entity':<12} {'planted':>7} {'recall':>7} {'precision':>9}")
    for label in sorted(stats):
        row = stats[label]
        total.update(row)
        recall = row["found"] / row["planted"] if row["planted"] else float("nan")
        precision = row["correct"] / row["predicted"] if row["predicted"] else float("nan")
        print(f"{label:<12} {row['planted']:>7} {recall:>7.3f} {precision:>9.3f}")
    recall = total["found"] / total["planted"]
    precision = total["correct"] / total["predicted"]
    print(f"{'all':<12} {total['planted']:>7} {recall:>7.3f} {precision:>9.3f}")
    print(f"samples: {len(samples)}, false positives: {total['false_positive']}")

    message = " ".join(s.text for s in samples)[:4000]
    texts = [s.text for s in samples]
    slow, fast = latency(detector, texts, args.rounds)
    one, base_one = latency(detector, [message], args.rounds * 4)
    print(
        f"latency, {len(texts)} sentences: detector {slow * 1000:.1f} ms, "
        f"regex baseline {fast * 1000:.2f} ms, ratio {slow / fast:.0f}x"
    )
    print(
        f"latency, one 4000-character message: {one * 1000:.1f} ms "
        f"(ratio to baseline {one / base_one:.0f}x)"
    )
    if recall < AIM:
        print(f"recall {recall:.3f} is under the aim of {AIM}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
