// DOM building for the chat page: message bubbles, the conversation list, plain-language
// errors. Text always goes in through textContent (or the markdown renderer, which does
// the same); this module holds no state and makes no requests.

import { ApiError, NetworkError } from "./api.js";
import { render } from "./markdown.js";

export const $ = (id) => document.getElementById(id);

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function button(label, className, onClick, ariaLabel) {
  const b = el("button", className, label);
  b.type = "button";
  if (ariaLabel) b.setAttribute("aria-label", ariaLabel);
  b.addEventListener("click", onClick);
  return b;
}

// One message in the log. Returns handles to update a reply while it streams.
export function messageNode(role, text, images = []) {
  const item = el("li", `message ${role}`);
  item.append(el("span", "sr-only", role === "user" ? "You said:" : "habla replied:"));
  const body = el("div", "body");
  if (role === "assistant") {
    body.classList.add("md");
    render(text, body);
  } else {
    body.textContent = text;
  }
  item.append(body);
  for (const url of images) {
    // Only the user's own images, as data: URLs the page made or the server stored.
    if (!url.startsWith("data:image/")) continue;
    const img = el("img", "attached");
    img.src = url;
    img.alt = "attached image";
    item.append(img);
  }
  const meta = el("p", "meta");
  item.append(meta);
  return {
    item,
    setText(value) { render(value, body); },
    setMeta(value) { meta.textContent = value; },
  };
}

// Splits the API's message content (string or OpenAI parts) into text and image URLs.
export function contentOf(message) {
  if (typeof message.content === "string") return { text: message.content, images: [] };
  const text = [];
  const images = [];
  for (const part of message.content || []) {
    if (part.type === "text") text.push(part.text);
    else if (part.type === "image_url") images.push(part.image_url.url);
  }
  return { text: text.join("\n"), images };
}

export function usageLine(usage, finishReason) {
  const parts = [];
  if (usage) {
    parts.push(`${usage.prompt_tokens} prompt + ${usage.completion_tokens} reply tokens`);
  }
  if (finishReason === "length") parts.push("cut short: the reply reached its length limit");
  return parts.join(" · ");
}

// One entry of the conversation list: open, rename (inline), delete (two steps).
export function conversationNode(conversation, active, actions) {
  const item = el("li", active ? "conversation active" : "conversation");
  item.dataset.id = conversation.id;
  const open = button(conversation.title || "Untitled", "open", () => actions.open(conversation));
  if (active) open.setAttribute("aria-current", "true");
  const rename = button("Rename", "small", () => startRename(), `Rename “${conversation.title}”`);
  const remove = button("Delete", "small danger", () => {
    if (remove.dataset.armed) {
      actions.remove(conversation);
      return;
    }
    remove.dataset.armed = "1";
    remove.textContent = "Confirm delete";
    remove.setAttribute("aria-label", `Confirm: delete “${conversation.title}”`);
  }, `Delete “${conversation.title}”`);
  item.append(open, rename, remove);

  function startRename() {
    const form = el("form", "rename");
    const label = el("label", "sr-only", "New title");
    const input = el("input");
    input.id = `rename-${conversation.id}`;
    label.htmlFor = input.id;
    input.value = conversation.title || "";
    input.maxLength = 200;
    const save = el("button", "small", "Save");
    save.type = "submit";
    const cancel = button("Cancel", "small", () => item.replaceWith(
      conversationNode(conversation, active, actions)));
    form.append(label, input, save, cancel);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const title = input.value.trim();
      if (title) actions.rename(conversation, title);
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Escape") cancel.click();
    });
    item.replaceChildren(form);
    input.focus();
    input.select();
  }
  return item;
}

function when(seconds) {
  if (seconds < 90) return `in ${Math.ceil(seconds)} seconds`;
  const at = new Date(Date.now() + seconds * 1000);
  const time = at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  if (seconds < 3600) return `in ${Math.round(seconds / 60)} minutes (at ${time})`;
  return `at ${time}${seconds > 20 * 3600 ? ` on ${at.toLocaleDateString()}` : ""}`;
}

// An error as a sentence a user can act on.
export function plainError(error) {
  if (error instanceof NetworkError) {
    return "Cannot reach the habla server. Check that it is running, then try again.";
  }
  if (!(error instanceof ApiError)) return `Something went wrong: ${error.message}`;
  const retry = error.retryAfter ? ` You can send again ${when(error.retryAfter)}.` : "";
  switch (error.code) {
    case "insufficient_quota":
      return `You have used up your token allowance.${retry || " It resets later."}`;
    case "rate_limit_exceeded":
      return `You have reached your limit for now.${retry}`;
    case "context_length_exceeded":
    case "input_too_large":
      return `Your message is too long for this model. Shorten it or start a new chat. (${error.message})`;
    case "backend_unavailable":
    case "backend_busy":
      return `The model is not available right now. Try again in a moment.${retry}`;
    case "model_not_found":
      return "That model is not served here any more. Pick another one.";
    case "unsupported_feature":
      return `This model cannot do that: ${error.message}`;
    case "content_blocked":
      return `The message was refused: ${error.message}`;
    default:
  }
  if (error.status === 401) return "Your sign-in has expired. Please sign in again.";
  if (error.status === 404) return "That conversation no longer exists.";
  if (error.status === 429) return `Too many requests right now.${retry}`;
  if (error.status >= 500) return `The server could not answer: ${error.message}`;
  return error.message;
}

// "Remaining quota" from /v1/me/usage, in one line; empty when nothing is limited.
export function quotaLine(usage) {
  const limits = (usage && usage.limits) || {};
  const parts = [];
  const tokens = limits.tokens_per_day;
  if (tokens && tokens.limit !== null) {
    parts.push(`${tokens.remaining.toLocaleString()} of ${tokens.limit.toLocaleString()} tokens left today`);
  }
  const month = limits.tokens_per_month;
  if (month && month.limit !== null) {
    parts.push(`${month.remaining.toLocaleString()} tokens left this month`);
  }
  const rpm = limits.requests_per_minute;
  if (rpm && rpm.limit !== null) parts.push(`${rpm.remaining} of ${rpm.limit} requests left this minute`);
  return parts.length ? parts.join(" · ") : "No usage limits on this account.";
}
