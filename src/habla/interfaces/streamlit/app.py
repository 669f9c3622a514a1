"""The Streamlit chat app: a thin client of habla's HTTP API (``habla streamlit``).

The sidebar holds the server URL and API key (defaults from ``HABLA_API_URL`` and
``HABLA_API_KEY``, which ``habla streamlit`` sets for the URL), the persona and model
pickers and the conversation list, read from the server. Replies stream in with
``st.write_stream``; failures show as one plain sentence.

It never touches the engine, the database or a model: everything goes through
:class:`~habla.interfaces.streamlit.client.HablaClient`. Markdown images are shown as
links, never loaded, so a reply cannot make the browser fetch another host.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import streamlit as st

from habla.interfaces.streamlit.client import ClientError, HablaClient, Reply

DEFAULT_URL = "http://127.0.0.1:8000"
NEW_CHAT = ""


def inert_images(text: str) -> str:
    """``![alt](url)`` becomes ``!`` and a link: markdown images are never loaded."""
    return text.replace("![", "\\![")


def inert_stream(chunks: Iterator[str]) -> Iterator[str]:
    """:func:`inert_images` over a stream whose ``!`` and ``[`` may arrive apart."""
    held = ""
    for chunk in chunks:
        text = held + chunk
        held = "!" if text.endswith("!") else ""
        yield inert_images(text[: len(text) - len(held)])
    if held:
        yield held


def _connection() -> HablaClient:
    st.sidebar.header("habla")
    url = st.sidebar.text_input(
        "Server URL", value=os.environ.get("HABLA_API_URL", DEFAULT_URL), key="api_url"
    )
    key = st.sidebar.text_input(
        "API key",
        value=os.environ.get("HABLA_API_KEY", ""),
        type="password",
        key="api_key",
        help="Not needed for a local server without accounts.",
    )
    return HablaClient(url, key.strip() or None)


def _picked() -> None:
    st.session_state.conversation_id = st.session_state.pick or None


def _pickers(
    personas: list[dict[str, str]],
    models: list[dict[str, Any]],
    conversations: list[dict[str, Any]],
) -> tuple[str, str]:
    names = [p["name"] for p in personas]
    persona = st.sidebar.selectbox("Persona", names, index=_index(names, "default"), key="persona")
    described = {p["name"]: p["description"] for p in personas}
    st.sidebar.caption(described.get(persona, ""))
    ids = [m["id"] for m in models]
    default = next((m["id"] for m in models if m.get("habla", {}).get("default")), None)
    model = st.sidebar.selectbox("Model", ids, index=_index(ids, default), key="model")
    titles = {c["id"]: c["title"] or "Untitled" for c in conversations}
    if "pending_pick" in st.session_state:  # a chat that just got its id on the server
        st.session_state.pick = st.session_state.pop("pending_pick")
    st.sidebar.selectbox(
        "Conversation",
        [NEW_CHAT, *titles],
        format_func=lambda cid: titles.get(cid, "New chat"),
        key="pick",
        on_change=_picked,
    )
    return persona, model


def _index(options: list[str], wanted: str | None) -> int:
    return options.index(wanted) if wanted in options else 0


def _history(client: HablaClient, conversation_id: str) -> None:
    for message in client.messages(conversation_id):
        if message["role"] not in ("user", "assistant"):
            continue
        content = message["content"]
        text = content if isinstance(content, str) else content[0].get("text", "")
        with st.chat_message(message["role"]):
            if message["role"] == "user":
                st.text(text)
            else:
                st.markdown(inert_images(text))
            if message.get("status") == "incomplete":
                st.caption("stopped before the end")


def _send(client: HablaClient, prompt: str, persona: str, model: str) -> None:
    with st.chat_message("user"):
        st.text(prompt)
    reply = Reply(conversation_id=st.session_state.get("conversation_id"))
    with st.chat_message("assistant"):
        try:
            st.write_stream(
                inert_stream(client.stream_reply(prompt, reply, persona=persona, model=model))
            )
        except ClientError as exc:
            st.error(exc.message)
            return
        usage = reply.usage
        if usage:
            st.caption(
                f"{usage['prompt_tokens']} prompt + {usage['completion_tokens']} reply tokens"
            )
    if reply.omitted_turns:
        st.info(f"Earlier turns were left out: {reply.omitted_turns} did not fit the model.")
    if reply.conversation_id and reply.conversation_id != st.session_state.get("conversation_id"):
        st.session_state.conversation_id = reply.conversation_id
        st.session_state.pending_pick = reply.conversation_id


def main() -> None:
    st.set_page_config(page_title="habla", page_icon="💬")
    st.title("habla")
    with _connection() as client:
        try:
            personas, models = client.personas(), client.models()
            conversations = client.conversations()
        except ClientError as exc:
            st.error(exc.message)
            return
        persona, model = _pickers(personas, models, conversations)
        conversation_id = st.session_state.get("conversation_id")
        if conversation_id:
            try:
                _history(client, conversation_id)
            except ClientError as exc:
                st.error(exc.message)
                st.session_state.conversation_id = None
        prompt = st.chat_input("Message habla")
        if prompt:
            _send(client, prompt, persona, model)


if __name__ == "__main__":
    main()
