"""The ``habla`` command: version, models, and the terminal chat driven through stdin."""

from __future__ import annotations

from pathlib import Path

from cli_runner import run
from habla import __version__


def test_version(tmp_path: Path) -> None:
    result = run(["--version"], tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == f"habla {__version__}"


def test_models_lists_the_configuration(tmp_path: Path) -> None:
    result = run(["models"], tmp_path, HABLA_MODELS="llamacpp:smollm2")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("* echo:echo")
    assert "llamacpp:smollm2" in lines[1] and "ok (context 4096 tokens)" in lines[1]


def test_models_reports_an_unusable_model(tmp_path: Path) -> None:
    result = run(["models"], tmp_path, HABLA_MODELS="llamacpp:missing")
    assert result.returncode == 1
    assert "llamacpp:missing  not usable: no GGUF file is configured" in result.stdout


def test_bad_configuration_is_one_clear_line(tmp_path: Path) -> None:
    result = run(["models"], tmp_path, HABLA_LLAMACPP_N_CTX="lots")
    assert result.returncode != 0
    assert "bad configuration: llamacpp_n_ctx" in result.stderr
    assert "Traceback" not in result.stderr


def test_chat_repl_commands_and_history(tmp_path: Path) -> None:
    script = "\n".join(
        [
            "first message",
            "/persona nobody",
            "/model nope:x",
            "/help",
            "/new",
            "second message",
            "/exit",
        ]
    )
    result = run(["chat"], tmp_path, stdin=script + "\n")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "bot> first message" in out
    assert "[error] unknown persona 'nobody'" in out
    assert "[error] unknown model 'nope:x'" in out
    assert "/persona NAME" in out
    assert "[new conversation]" in out
    assert "bot> second message" in out
    listed = run(["chat"], tmp_path, stdin="")  # end of input leaves cleanly
    assert listed.returncode == 0


def test_chat_with_the_embedded_model(tmp_path: Path) -> None:
    result = run(
        ["chat", "--model", "llamacpp:smollm2", "--max-tokens", "20"],
        tmp_path,
        stdin="Say hello.\n",
        HABLA_MODELS="llamacpp:smollm2",
    )
    assert result.returncode == 0, result.stderr
    reply = result.stdout.split("bot> ", 1)[1].split("you> ", 1)[0]
    assert reply.strip()
    assert "Traceback" not in result.stderr


def test_chat_with_an_unknown_model_fails_clearly(tmp_path: Path) -> None:
    result = run(["chat", "--model", "nope:x"], tmp_path)
    assert result.returncode == 1
    assert "the model 'nope:x' does not exist here" in result.stderr
