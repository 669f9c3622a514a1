"""History lives in SQLite under the data directory and survives a server restart."""

from __future__ import annotations

from pathlib import Path

import httpx

from servers import HablaProcess


def test_history_survives_a_restart(tmp_path: Path) -> None:
    env = {
        "HABLA_DATA_DIR": str(tmp_path / "data"),
        "HABLA_DEFAULT_MODEL": "echo:echo",
    }
    log = tmp_path / "serve.log"
    with HablaProcess(env, log_path=log) as first:
        answer = httpx.post(first.url + "/chat", json={"prompt": "before the restart"}).json()
    conversation_id = answer["conversation_id"]

    with HablaProcess(env, log_path=log) as second:
        listed = httpx.get(second.url + "/v1/conversations").json()["data"]
        assert [c["id"] for c in listed] == [conversation_id]
        again = httpx.post(
            second.url + "/chat",
            json={"prompt": "after the restart", "conversation_id": conversation_id},
        )
        assert again.status_code == 200
        messages = httpx.get(f"{second.url}/v1/conversations/{conversation_id}").json()["messages"]
    assert [(m["role"], m["content"], m["status"]) for m in messages] == [
        ("user", "before the restart", "complete"),
        ("assistant", "before the restart", "complete"),
        ("user", "after the restart", "complete"),
        ("assistant", "after the restart", "complete"),
    ]
    assert (tmp_path / "data" / "habla.db").is_file()
