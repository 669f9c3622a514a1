"""The HTTP API: OpenAI-compatible routes, the persona endpoint, conversations, health."""
