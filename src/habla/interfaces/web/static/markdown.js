// A small markdown renderer that builds DOM nodes: text only ever enters the page
// through createElement/textContent, never through an HTML parser, so nothing a user or a
// model writes can become markup, script or an event handler (OWASP LLM05).
//
// Supported: paragraphs, headings, lists (nested by indent), block quotes, fenced code
// (with a copy button), tables, rules; inline code, bold, italic, strike-through, links.
// Links keep only http(s) and mailto targets; images are never loaded — a markdown image
// becomes a link to it (or plain text), so a reply cannot make the browser fetch anything.
// Raw HTML is shown as the text it is.

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([\w+#.-]*)/;
const HEADING = /^ {0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$/;
const RULE = /^ {0,3}([-*_])(?:\s*\1){2,}\s*$/;
const QUOTE = /^ {0,3}>\s?(.*)$/;
const ITEM = /^(\s*)([-*+]|\d{1,9}[.)])\s+(.*)$/;
const TABLE_RULE = /^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$/;
const SAFE_PROTOCOLS = new Set(["http:", "https:", "mailto:"]);

const INLINE = new RegExp(
  [
    /(`+)([\s\S]*?[^`])\1(?!`)/, // 1, 2: code span
    /!\[([^\]]*)\]\(\s*<?([^\s)>]*)>?(?:\s+"[^"]*")?\s*\)/, // 3, 4: image
    /\[([^\]]+)\]\(\s*<?([^\s)>]*)>?(?:\s+"[^"]*")?\s*\)/, // 5, 6: link
    /<((?:https?:\/\/|mailto:)[^\s>]+)>/, // 7: autolink
    /(https?:\/\/[^\s<>"']*[^\s<>"'.,;:!?)\]])/, // 8: bare URL
    /\*\*(?=\S)([\s\S]*?\S)\*\*/, // 9: bold
    /__(?=\S)([\s\S]*?\S)__/, // 10: bold
    /~~(?=\S)([\s\S]*?\S)~~/, // 11: strike
    /\*(?=[^\s*])([\s\S]*?[^\s*])\*/, // 12: italic
    /\b_(?=[^\s_])([\s\S]*?[^\s_])_\b/, // 13: italic
  ]
    .map((re) => re.source)
    .join("|"),
  "g",
);

export function safeUrl(raw) {
  let url;
  try {
    url = new URL(raw);
  } catch {
    return null; // relative or malformed: not a link
  }
  return SAFE_PROTOCOLS.has(url.protocol) ? url.href : null;
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function link(href, label, parent) {
  const a = el("a");
  a.href = href;
  a.rel = "noopener noreferrer nofollow";
  a.target = "_blank";
  a.referrerPolicy = "no-referrer";
  if (typeof label === "string") a.textContent = label;
  else inline(label.text, a);
  parent.append(a);
}

export function inline(text, parent) {
  let last = 0;
  INLINE.lastIndex = 0;
  for (let m = INLINE.exec(text); m !== null; m = INLINE.exec(text)) {
    if (m.index > last) parent.append(text.slice(last, m.index));
    last = INLINE.lastIndex;
    if (m[2] !== undefined) {
      parent.append(el("code", null, m[2].replace(/^ (.*) $/, "$1")));
    } else if (m[4] !== undefined) {
      // Never an <img>: the reply must not make the browser fetch a remote host.
      const href = safeUrl(m[4]);
      const label = `image: ${m[3] || "untitled"}`;
      if (href) link(href, label, parent);
      else parent.append(`[${label}]`);
    } else if (m[6] !== undefined) {
      const href = safeUrl(m[6]);
      if (href) link(href, { text: m[5] }, parent);
      else inline(m[5], parent); // an unsafe target keeps its words, loses the link
    } else if (m[7] !== undefined || m[8] !== undefined) {
      const raw = m[7] ?? m[8];
      const href = safeUrl(raw);
      if (href) link(href, raw, parent);
      else parent.append(raw);
    } else {
      const [tag, inner] =
        m[9] !== undefined ? ["strong", m[9]]
        : m[10] !== undefined ? ["strong", m[10]]
        : m[11] !== undefined ? ["del", m[11]]
        : ["em", m[12] ?? m[13]];
      const node = el(tag);
      inline(inner, node);
      parent.append(node);
    }
    INLINE.lastIndex = last; // nested calls share the regex
  }
  if (last < text.length) parent.append(text.slice(last));
}

function codeBlock(code, lang, parent) {
  const figure = el("div", "code-block");
  const bar = el("div", "code-bar");
  bar.append(el("span", "code-lang", lang || "code"));
  const copy = el("button", "copy", "Copy");
  copy.type = "button";
  copy.setAttribute("aria-label", "Copy code");
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(code);
      copy.textContent = "Copied";
    } catch {
      copy.textContent = "Select and copy";
    }
    setTimeout(() => { copy.textContent = "Copy"; }, 2000);
  });
  bar.append(copy);
  const pre = el("pre");
  const codeNode = el("code", null, code);
  if (lang) codeNode.dataset.lang = lang;
  pre.append(codeNode);
  figure.append(bar, pre);
  parent.append(figure);
}

function splitRow(line) {
  let row = line.trim();
  if (row.startsWith("|")) row = row.slice(1);
  if (row.endsWith("|") && !row.endsWith("\\|")) row = row.slice(0, -1);
  return row.split(/(?<!\\)\|/).map((cell) => cell.trim().replace(/\\\|/g, "|"));
}

function table(lines, parent) {
  const wrap = el("div", "table-wrap");
  const node = el("table");
  const align = splitRow(lines[1]).map((c) =>
    c.startsWith(":") && c.endsWith(":") ? "center" : c.endsWith(":") ? "right" : "",
  );
  const head = el("thead");
  const headRow = el("tr");
  for (const [i, cell] of splitRow(lines[0]).entries()) {
    const th = el("th");
    th.scope = "col";
    if (align[i]) th.className = `align-${align[i]}`;
    inline(cell, th);
    headRow.append(th);
  }
  head.append(headRow);
  const body = el("tbody");
  for (const line of lines.slice(2)) {
    const tr = el("tr");
    for (const [i, cell] of splitRow(line).entries()) {
      const td = el("td");
      if (align[i]) td.className = `align-${align[i]}`;
      inline(cell, td);
      tr.append(td);
    }
    body.append(tr);
  }
  node.append(head, body);
  wrap.append(node);
  parent.append(wrap);
}

function list(lines, start, parent) {
  const first = ITEM.exec(lines[start]);
  const indent = first[1].length;
  const ordered = /\d/.test(first[2]);
  const node = el(ordered ? "ol" : "ul");
  if (ordered && parseInt(first[2], 10) !== 1) node.start = parseInt(first[2], 10);
  let i = start;
  let item = null;
  while (i < lines.length) {
    const line = lines[i];
    const m = ITEM.exec(line);
    if (m && m[1].length === indent && /\d/.test(m[2]) === ordered) {
      item = [m[3]];
      node.append(el("li"));
      node.lastChild.source = item;
    } else if (line.trim() === "" && i + 1 < lines.length && /^\s+\S/.test(lines[i + 1])) {
      item.push("");
    } else if (item && (/^\s+\S/.test(line) && line.search(/\S/) > indent)) {
      item.push(line.slice(Math.min(line.search(/\S/), indent + 4)));
    } else {
      break;
    }
    i += 1;
  }
  for (const li of node.children) {
    blocks(li.source.join("\n"), li);
    if (li.childElementCount === 1 && li.firstChild.tagName === "P") {
      li.append(...li.firstChild.childNodes); // tight list: no paragraph inside
      li.firstChild.remove();
    }
    delete li.source;
  }
  parent.append(node);
  return i;
}

function startsBlock(lines, i) {
  const line = lines[i];
  return (
    FENCE.test(line) || HEADING.test(line) || RULE.test(line) || QUOTE.test(line) ||
    ITEM.test(line) || (line.includes("|") && i + 1 < lines.length && TABLE_RULE.test(lines[i + 1]))
  );
}

export function blocks(text, parent) {
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    let m;
    if (line.trim() === "") {
      i += 1;
    } else if ((m = FENCE.exec(line))) {
      const body = [];
      i += 1;
      while (i < lines.length && !lines[i].trim().startsWith(m[1])) body.push(lines[i++]);
      i += 1; // the closing fence (or the end of a reply still streaming)
      codeBlock(body.join("\n"), m[2], parent);
    } else if ((m = HEADING.exec(line))) {
      const h = el(`h${Math.min(6, m[1].length + 2)}`); // the page owns h1/h2
      inline(m[2], h);
      parent.append(h);
      i += 1;
    } else if (RULE.test(line)) {
      parent.append(el("hr"));
      i += 1;
    } else if (QUOTE.test(line)) {
      const inner = [];
      while (i < lines.length && (m = QUOTE.exec(lines[i]))) { inner.push(m[1]); i += 1; }
      const quote = el("blockquote");
      blocks(inner.join("\n"), quote);
      parent.append(quote);
    } else if (ITEM.test(line)) {
      i = list(lines, i, parent);
    } else if (line.includes("|") && i + 1 < lines.length && TABLE_RULE.test(lines[i + 1])) {
      const rows = [line, lines[i + 1]];
      i += 2;
      while (i < lines.length && lines[i].includes("|") && lines[i].trim()) rows.push(lines[i++]);
      table(rows, parent);
    } else {
      const para = [line];
      i += 1;
      while (i < lines.length && lines[i].trim() !== "" && !startsBlock(lines, i)) {
        para.push(lines[i++]);
      }
      const p = el("p");
      inline(para.join("\n"), p);
      parent.append(p);
    }
  }
}

// Renders `text` as the only content of `container`.
export function render(text, container) {
  const fragment = document.createDocumentFragment();
  blocks(text, fragment);
  container.replaceChildren(fragment);
}
