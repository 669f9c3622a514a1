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


def direct_run(llama: object, ids: list[int], max_tokens: int) -> tuple[int, float]:
    start = time.perf_counter()
    produced = 0
    for chunk in llama.create_completion(  # type: ignore[attr-defined]
        prompt=ids, max_tokens=max_tokens, temperature=0.0, stream=True, repeat_penalty=1.0
    ):
        if chunk["choices"][0]["finish_reason"] is None:  # the last chunk only says why
            produced += 1
    return produced, time.perf_counter() - start


def api_run(url: str, max_tokens: int) -> tuple[int, float]:
    body = {
        "model": "llamacpp:smollm2",
        "messages": [{"role": "user", "content": PROMPT}],
        "max_tokens": max_tokens,
        "temperature": 0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    produced = 0
    start = time.perf_counter()
    with httpx.stream("POST", url + "/v1/chat/completions", json=body, timeout=300) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if line.startswith("data: {"):
                usage = json.loads(line[6:]).get("usage")
                if usage:
                    produced = usage["completion_tokens"]
    return produced, time.perf_counter() - start


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
            direct_rates, api_rates = [], []
            for round_no in range(1, args.rounds + 1):
                n_direct, t_direct = direct_run(llama, ids, args.max_tokens)
                n_api, t_api = api_run(url, args.max_tokens)
                direct_rates.append(n_direct / t_direct)
                api_rates.append(n_api / t_api)
                print(
                    f"round {round_no}: direct {n_direct} tok in {t_direct:.2f}s "
                    f"({direct_rates[-1]:.1f} tok/s) | api {n_api} tok in {t_api:.2f}s "
                    f"({api_rates[-1]:.1f} tok/s)"
                )
        finally:
            server.terminate()
            server.wait(timeout=20)

    direct = statistics.median(direct_rates)
    api = statistics.median(api_rates)
    print(f"\nllama-cpp-python direct : {direct:.1f} tokens/s (median of {args.rounds})")
    print(f"habla API streaming path: {api:.1f} tokens/s (median of {args.rounds})")
    print(f"ratio api/direct        : {api / direct:.3f}  (aim >= 0.95)")


if __name__ == "__main__":
    main()
