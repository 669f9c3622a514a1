// The page's only way to the server: JSON calls and a streaming chat over the public
// HTTP API, with the user's own credentials. It knows nothing about the DOM.
//
// Streaming reads `POST /v1/chat/completions` with `stream: true` as Server-Sent Events
// over fetch (EventSource cannot POST); aborting the fetch closes the connection, and the
// server cancels generation when its client goes away.

export class ApiError extends Error {
  constructor(status, body, headers) {
    const error = (body && body.error) || {};
    super(error.message || `the server answered ${status}`);
    this.status = status;
    this.code = error.code || null;
    this.type = error.type || null;
    const retry = headers ? Number(headers.get("Retry-After")) : NaN;
    this.retryAfter = Number.isFinite(retry) && retry > 0 ? retry : null;
  }
}

export class NetworkError extends Error {}

export class Api {
  constructor(token = null) {
    this.token = token;
  }

  headers(json) {
    const headers = {};
    if (json) headers["Content-Type"] = "application/json";
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    return headers;
  }

  async fetch(method, path, body, signal) {
    try {
      return await fetch(path, {
        method,
        headers: this.headers(body !== undefined),
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
        credentials: "omit",
        cache: "no-store",
      });
    } catch (error) {
      if (error && error.name === "AbortError") throw error;
      throw new NetworkError("cannot reach the habla server");
    }
  }

  async call(method, path, body) {
    const response = await this.fetch(method, path, body);
    if (response.status === 204) return null;
    const data = await response.json().catch(() => null);
    if (!response.ok) throw new ApiError(response.status, data, response.headers);
    return data;
  }

  get(path) { return this.call("GET", path); }
  post(path, body) { return this.call("POST", path, body); }
  patch(path, body) { return this.call("PATCH", path, body); }
  delete(path) { return this.call("DELETE", path); }

  async signIn(name, password) {
    const data = await this.post("/v1/auth/token", { name, password });
    return data.access_token;
  }

  // Streams one reply. `handlers.onStart({conversationId, omittedTurns, notice})` once,
  // `handlers.onDelta(text)` per piece; resolves to {finishReason, usage} at the end.
  async streamChat(body, handlers, signal) {
    const request = { ...body, stream: true, stream_options: { include_usage: true } };
    const response = await this.fetch("POST", "/v1/chat/completions", request, signal);
    if (!response.ok) {
      const data = await response.json().catch(() => null);
      throw new ApiError(response.status, data, response.headers);
    }
    const omitted = Number(response.headers.get("X-Habla-Omitted-Turns") || "0");
    let started = false;
    const result = { finishReason: null, usage: null };
    for await (const payload of sseEvents(response.body, signal)) {
      if (payload === "[DONE]") break;
      const chunk = JSON.parse(payload);
      if (chunk.error) throw new ApiError(500, chunk, null);
      if (!started) {
        started = true;
        const meta = chunk.habla || {};
        handlers.onStart({
          conversationId: meta.conversation_id || response.headers.get("X-Habla-Conversation-Id"),
          omittedTurns: meta.omitted_turns ?? omitted,
          notice: meta.notice || null,
        });
      }
      if (chunk.usage) result.usage = chunk.usage;
      for (const choice of chunk.choices || []) {
        if (choice.delta && choice.delta.content) handlers.onDelta(choice.delta.content);
        if (choice.finish_reason) result.finishReason = choice.finish_reason;
      }
    }
    return result;
  }
}

// Yields the `data:` payload of each event; comments (keep-alives) are skipped.
async function* sseEvents(stream, signal) {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = event
          .split("\n")
          .filter((line) => line.startsWith("data:"))
          .map((line) => line.slice(5).replace(/^ /, ""))
          .join("\n");
        if (data) yield data;
      }
    }
  } finally {
    if (signal && signal.aborted) reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}
