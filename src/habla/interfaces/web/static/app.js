// The chat page: sign-in (or local mode), conversations, streaming replies, pickers,
// image attachments. Everything goes through the HTTP API (api.js); the DOM is built by
// view.js and markdown.js. The open conversation lives in the URL (#c=<id>) so a reload
// comes back to it.

import { Api, ApiError } from "./api.js";
import { Attachments } from "./images.js";
import {
  $, contentOf, conversationNode, el, messageNode, plainError, quotaLine, usageLine,
} from "./view.js";

const TOKEN_KEY = "habla.token";

const state = {
  api: new Api(localStorage.getItem(TOKEN_KEY)),
  local: false,
  conversationId: null,
  models: [],
  personas: [],
  controller: null, // the AbortController of the reply streaming now
};

function show(id, visible) { $(id).hidden = !visible; }

function showError(message) {
  $("error").textContent = message || "";
  show("error", Boolean(message));
}

function showNotice(message) {
  $("notice").textContent = message || "";
  show("notice", Boolean(message));
}

// -- start and sign-in ----------------------------------------------------------------

async function boot() {
  try {
    const me = await state.api.get("/v1/me");
    await enter(me);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      localStorage.removeItem(TOKEN_KEY);
      state.api.token = null;
      showSignIn();
    } else {
      show("loading", true);
      $("loading").textContent = plainError(error);
    }
  }
}

function showSignIn(message = "") {
  show("loading", false);
  show("app", false);
  show("signin", true);
  $("signin-error").textContent = message;
  $("signin-name").focus();
}

async function useToken(token) {
  state.api.token = token;
  const me = await state.api.get("/v1/me");
  localStorage.setItem(TOKEN_KEY, token);
  await enter(me);
}

$("signin-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("signin-error").textContent = "";
  try {
    const token = await state.api.signIn($("signin-name").value, $("signin-password").value);
    $("signin-password").value = "";
    await useToken(token);
  } catch (error) {
    const message = error instanceof ApiError && error.status === 401
      ? "That name and password do not match." : plainError(error);
    $("signin-error").textContent = message;
  }
});

$("key-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    await useToken($("signin-key").value.trim());
    $("signin-key").value = "";
  } catch (error) {
    state.api.token = null;
    $("signin-error").textContent = error instanceof ApiError && error.status === 401
      ? "That API key is not valid." : plainError(error);
  }
});

$("signout").addEventListener("click", () => {
  localStorage.removeItem(TOKEN_KEY);
  state.api.token = null;
  location.hash = "";
  showSignIn();
});

async function enter(me) {
  state.local = me.authenticated_by === "local";
  const [models, personas] = await Promise.all([
    state.api.get("/v1/models"), state.api.get("/v1/personas"),
  ]);
  state.models = models.data;
  state.personas = personas.data;
  fillPickers();
  await refreshConversations();
  // Shown only now: a message sent before the pickers were filled would go nowhere.
  $("who").textContent = state.local ? "local mode" : `signed in as ${me.name}`;
  show("signout", !state.local);
  show("loading", false);
  show("signin", false);
  show("app", true);
  const wanted = new URLSearchParams(location.hash.slice(1)).get("c");
  if (wanted) await openConversation(wanted);
  else newChat();
  refreshQuota();
}

function fillPickers() {
  const model = $("model");
  model.replaceChildren();
  for (const m of state.models) {
    const label = `${m.id}${m.habla && m.habla.vision ? " (reads images)" : ""}`;
    const option = el("option", null, label);
    option.value = m.id;
    option.selected = Boolean(m.habla && m.habla.default);
    model.append(option);
  }
  const persona = $("persona");
  persona.replaceChildren();
  for (const p of state.personas) {
    const option = el("option", null, p.name);
    option.value = p.name;
    option.selected = p.name === "default";
    persona.append(option);
  }
  describePersona();
}

function describePersona() {
  const p = state.personas.find((x) => x.name === $("persona").value);
  $("persona-description").textContent = p ? p.description : "";
}
$("persona").addEventListener("change", describePersona);

function currentModel() {
  return state.models.find((m) => m.id === $("model").value) || null;
}

const attachments = new Attachments({
  canSee: () => {
    const model = currentModel();
    return model && { id: model.id, vision: Boolean(model.habla && model.habla.vision) };
  },
  report: showError,
});
$("model").addEventListener("change", () => attachments.check());

// -- conversations ----------------------------------------------------------------------

const actions = {
  open: (c) => openConversation(c.id),
  rename: async (c, title) => {
    try {
      await state.api.patch(`/v1/conversations/${encodeURIComponent(c.id)}`, { title });
      await refreshConversations();
      focusConversation(c.id);
    } catch (error) { showError(plainError(error)); }
  },
  remove: async (c) => {
    try {
      await state.api.delete(`/v1/conversations/${encodeURIComponent(c.id)}`);
      if (state.conversationId === c.id) newChat();
      await refreshConversations();
      $("new-chat").focus();
    } catch (error) { showError(plainError(error)); }
  },
};

function focusConversation(id) {
  const button = document.querySelector(`#conversations li[data-id="${CSS.escape(id)}"] .open`);
  if (button) button.focus();
}

async function refreshConversations() {
  const list = await state.api.get("/v1/conversations");
  const items = list.data.map((c) => conversationNode(c, c.id === state.conversationId, actions));
  $("conversations").replaceChildren(...items);
  show("no-conversations", items.length === 0);
}

function setConversation(id) {
  state.conversationId = id;
  history.replaceState(null, "", id ? `#c=${encodeURIComponent(id)}` : location.pathname);
  for (const item of $("conversations").children) {
    const active = item.dataset.id === id;
    item.classList.toggle("active", active);
    const open = item.querySelector(".open");
    if (open) open.toggleAttribute("aria-current", active);
  }
}

function newChat() {
  stopReply();
  setConversation(null);
  $("messages").replaceChildren();
  showNotice("");
  showError("");
  closeMenu();
  $("prompt").focus();
}

async function openConversation(id) {
  stopReply();
  showError("");
  showNotice("");
  try {
    const conversation = await state.api.get(`/v1/conversations/${encodeURIComponent(id)}`);
    setConversation(conversation.id);
    if (state.models.some((m) => m.id === conversation.model)) $("model").value = conversation.model;
    if (state.personas.some((p) => p.name === conversation.persona)) {
      $("persona").value = conversation.persona;
      describePersona();
    }
    const nodes = conversation.messages
      .filter((m) => m.role !== "system")
      .map((m) => {
        const { text, images } = contentOf(m);
        const node = messageNode(m.role, text, images);
        if (m.status === "incomplete") node.setMeta("stopped before the end");
        return node.item;
      });
    $("messages").replaceChildren(...nodes);
    closeMenu();
    $("prompt").focus();
  } catch (error) {
    setConversation(null);
    showError(plainError(error));
  }
}

$("new-chat").addEventListener("click", newChat);

// -- sending and streaming ---------------------------------------------------------------

function busy(on) {
  show("send", !on);
  show("stop", on);
  $("messages").setAttribute("aria-busy", on ? "true" : "false");
}

function stopReply() {
  if (state.controller) state.controller.abort();
}
$("stop").addEventListener("click", () => { stopReply(); $("prompt").focus(); });

async function send() {
  const text = $("prompt").value.trim();
  if ((!text && !attachments.count) || state.controller) return;
  if (!attachments.check()) return;
  showError("");
  const images = attachments.take();
  const content = images.length
    ? [{ type: "text", text }, ...images.map((url) => ({ type: "image_url", image_url: { url } }))]
    : text;
  const body = {
    model: $("model").value,
    persona: $("persona").value,
    messages: [{ role: "user", content }],
    store: true,
  };
  if (state.conversationId) body.conversation_id = state.conversationId;
  const mine = messageNode("user", text, images);
  const reply = messageNode("assistant", "");
  $("messages").append(mine.item, reply.item);
  $("prompt").value = "";
  reply.item.scrollIntoView({ block: "end" });
  state.controller = new AbortController();
  busy(true);
  let answer = "";
  let pending = false;
  const paint = () => { pending = false; reply.setText(answer); reply.item.scrollIntoView({ block: "end" }); };
  try {
    const result = await state.api.streamChat(body, {
      onStart: (meta) => {
        const isNew = meta.conversationId && meta.conversationId !== state.conversationId;
        if (meta.conversationId) setConversation(meta.conversationId);
        if (isNew) refreshConversations().catch(() => {});
        showNotice(meta.omittedTurns > 0
          ? meta.notice || `Earlier turns were left out: ${meta.omittedTurns} did not fit in what the model can read at once.`
          : "");
      },
      onDelta: (delta) => {
        answer += delta;
        if (!pending) { pending = true; requestAnimationFrame(paint); }
      },
    }, state.controller.signal);
    paint();
    reply.setMeta(usageLine(result.usage, result.finishReason));
  } catch (error) {
    paint();
    if (error && error.name === "AbortError") {
      reply.setMeta("stopped");
    } else {
      if (!answer) reply.item.remove();
      else reply.setMeta("the reply broke off");
      if (!answer && !state.conversationId) mine.item.remove();
      showError(plainError(error));
      if (error instanceof ApiError && error.status === 401 && !state.local) showSignIn(plainError(error));
    }
  } finally {
    state.controller = null;
    busy(false);
    refreshQuota();
    refreshConversations().catch(() => {});
  }
}

$("composer").addEventListener("submit", (event) => { event.preventDefault(); send(); });
$("prompt").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    send();
  }
});

async function refreshQuota() {
  try {
    $("usage").textContent = quotaLine(await state.api.get("/v1/me/usage"));
  } catch {
    // the quota line is informative only
  }
}

// -- phone layout: the conversation list folds away --------------------------------------

function closeMenu() {
  document.body.classList.remove("menu-open");
  $("menu").setAttribute("aria-expanded", "false");
}
$("menu").addEventListener("click", () => {
  const open = document.body.classList.toggle("menu-open");
  $("menu").setAttribute("aria-expanded", String(open));
  if (open) $("new-chat").focus();
});

boot();
