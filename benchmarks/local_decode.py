"""Decode speed of the embedded model: habla's streaming API path vs llama-cpp-python direct.

Both run the same prompt token ids, greedy (temperature 0) so they generate the same
tokens, on the same machine in the same run, interleaved round by round. Prints tokens/s
for each, and the ratio API / direct (the aim is >= 0.95).

    .venv/bin/python benchmarks/local_decode.py [--rounds 5] [--max-tokens 256]

The API side is a real ``habla serve`` on 127.0.0.1 read over HTTP as an SSE stream.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from habla.backends.llamacpp import embedded_model_path
from habla.settings import DEFAULT_SYSTEM_PROMPT

PROMPT = "Write a long, detailed story about a lighthouse keeper and a storm."
HABLA = Path(sys.executable).with_name("habla")


def direct_run(llama: object, ids: list[int], max_tokens: int) -> tuple[int, float, float]:
    start = time.perf_counter()
    first = 0.0
    produced = 0
    for chunk in llama.create_completion(  # type: ignore[attr-defined]
        prompt=ids, max_tokens=max_tokens, temperature=0.0, stream=True, repeat_penalty=1.0
    ):
        if chunk["choices"][0]["finish_reason"] is None:  # the last chunk only says why
            produced += 1
            first = first or time.perf_counter()
    return produced, time.perf_counter() - start, first - start


def api_run(url: str, max_tokens: int) -> tuple[int, float, float]:
    body = {
        "model": "llamacpp:smollm2",
        "messages": [{"role": "user", "content": PROMPT}],
        "max_tokens": max_tokens,
        "temperature": 0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    produced = 0
    first = 0.0
    start = time.perf_counter()
    with httpx.stream("POST", url + "/v1/chat/completions", json=body, timeout=300) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if line.startswith("data: {"):
                chunk = json.loads(line[6:])
                if chunk["choices"] and chunk["choices"][0]["delta"].get("content"):
                    first = first or time.perf_counter()
                usage = chunk.get("usage")
                if usage:
                    produced = usage["completion_tokens"]
    return produced, time.perf_counter() - start, first - start


def start_server(port: int, data_dir: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HABLA_DATA_DIR": data_dir, "HABLA_DEFAULT_MODEL": "llamacpp:smollm2"}
    proc = subprocess.Popen(
        [str(HABLA), "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(600):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("habla serve did not become ready")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--port", type=int, default=8799)
    args = parser.parse_args()

    from llama_cpp import Llama

    from habla.backends.llamacpp_prompt import SafePromptBuilder

    llama = Llama(
        model_path=str(embedded_model_path()),
        n_ctx=4096,
        n_threads=os.cpu_count(),
        verbose=False,
    )
    builder = SafePromptBuilder(
        llama.metadata.get("tokenizer.chat_template"),
        lambda text, special: llama.tokenize(text.encode(), add_bos=False, special=special),
    )
    from habla.core.messages import Message

    ids = builder.build([Message.of("system", DEFAULT_SYSTEM_PROMPT), Message.of("user", PROMPT)])

    with tempfile.TemporaryDirectory() as data_dir:
        server = start_server(args.port, data_dir)
        url = f"http://127.0.0.1:{args.port}"
        try:
            direct_run(llama, ids, 16)  # warm-up both sides
            api_run(url, 16)
            runs: dict[str, list[tuple[int, float, float]]] = {"direct": [], "api": []}
            for round_no in range(1, args.rounds + 1):
                runs["direct"].append(direct_run(llama, ids, args.max_tokens))
                runs["api"].append(api_run(url, args.max_tokens))
                print(
                    f"round {round_no}: "
                    + " | ".join(
                        f"{side} {describe(*runs[side][-1])}" for side in ("direct", "api")
                    )
                )
        finally:
            server.terminate()
            server.wait(timeout=20)
    report(runs, args.rounds)


def describe(tokens: int, total: float, first: float) -> str:
    return f"{tokens} tok in {total:.2f}s, first after {first * 1000:.0f} ms"


def report(runs: dict[str, list[tuple[int, float, float]]], rounds: int) -> None:
    """End to end (tokens / total time) and decode only (after the first token)."""
    rates: dict[str, tuple[float, float]] = {}
    for side, samples in runs.items():
        end_to_end = statistics.median(n / total for n, total, _ in samples)
        decode = statistics.median((n - 1) / (total - first) for n, total, first in samples)
        rates[side] = (end_to_end, decode)
    names = {"direct": "llama-cpp-python direct ", "api": "habla API streaming path"}
    print(f"\nmedians of {rounds} rounds   end-to-end tok/s   decode tok/s")
    for side, (end_to_end, decode) in rates.items():
        print(f"{names[side]}   {end_to_end:14.1f}   {decode:12.1f}")
    print(
        f"ratio api/direct           {rates['api'][0] / rates['direct'][0]:14.3f}   "
        f"{rates['api'][1] / rates['direct'][1]:12.3f}   (aim >= 0.95)"
    )


if __name__ == "__main__":
    main()
