"use strict";
// The rethinker demo page: builds OpenAI chat requests, streams answers, renders simple LaTeX, forces rethinking.

const $ = (id) => document.getElementById(id);
const state = { image: null, settings: null, messages: null, response: "", busy: false };
const MAX_DEPTH = 40;

// ---------- LaTeX-ish rendering (no external library): escape everything, then emit our own tags ----------

const SYMBOLS = {
  times: "×", cdot: "·", div: "÷", pm: "±", mp: "∓", le: "≤", leq: "≤", ge: "≥", geq: "≥", neq: "≠", ne: "≠",
  approx: "≈", equiv: "≡", sim: "∼", infty: "∞", circ: "°", degree: "°", angle: "∠", triangle: "△", perp: "⊥",
  parallel: "∥", rightarrow: "→", to: "→", leftarrow: "←", Rightarrow: "⇒", Leftrightarrow: "⇔", implies: "⇒",
  cdots: "⋯", ldots: "…", dots: "…", in: "∈", notin: "∉", subset: "⊂", cup: "∪", cap: "∩", emptyset: "∅",
  therefore: "∴", because: "∵", sum: "∑", prod: "∏", int: "∫", partial: "∂", nabla: "∇", forall: "∀", exists: "∃",
  alpha: "α", beta: "β", gamma: "γ", delta: "δ", epsilon: "ε", varepsilon: "ε", zeta: "ζ", eta: "η", theta: "θ",
  iota: "ι", kappa: "κ", lambda: "λ", mu: "μ", nu: "ν", xi: "ξ", pi: "π", rho: "ρ", sigma: "σ", tau: "τ",
  phi: "φ", varphi: "φ", chi: "χ", psi: "ψ", omega: "ω", Gamma: "Γ", Delta: "Δ", Theta: "Θ", Lambda: "Λ",
  Pi: "π", Sigma: "Σ", Phi: "Φ", Omega: "Ω", quad: "\u2003", qquad: "\u2003\u2003", ",": "\u2009", ";": " ",
  "!": "", " ": " ", "{": "{", "}": "}", "%": "%", "$": "$", "&": "&amp;", "#": "#", "_": "_", "\\": "<br>",
};
const PLAIN_GROUPS = new Set(["text", "mathrm", "mathbf", "textbf", "mathit", "operatorname", "mbox", "displaystyle"]);
const DROPPED = new Set(["left", "right", "big", "Big", "bigl", "bigr", "displaystyle", "limits"]);

function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

// Reads one argument at `pos`: a {...} group (brace-balanced) or a single character. Returns [source, nextPos].
function readArgument(src, pos) {
  while (src[pos] === " ") pos += 1;
  if (src[pos] !== "{") return [src[pos] || "", pos + 1];
  let depth = 0;
  for (let i = pos; i < src.length; i += 1) {
    if (src[i] === "\\") { i += 1; continue; }
    if (src[i] === "{") depth += 1;
    if (src[i] === "}" && --depth === 0) return [src.slice(pos + 1, i), i + 1];
  }
  return [src.slice(pos + 1), src.length];
}

function renderTex(src, depth = 0) {
  if (depth > MAX_DEPTH) return escapeHtml(src);
  let out = "";
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (c === "\\") {
      const name = (/^[A-Za-z]+/.exec(src.slice(i + 1, i + 40)) || [src[i + 1] || ""])[0];
      i += 1 + name.length;
      if (name === "frac" || name === "dfrac" || name === "tfrac") {
        const [num, afterNum] = readArgument(src, i);
        const [den, afterDen] = readArgument(src, afterNum);
        i = afterDen;
        out += `<span class="frac"><span class="num">${renderTex(num, depth + 1)}</span>` +
          `<span class="den">${renderTex(den, depth + 1)}</span></span>`;
      } else if (name === "boxed" || name === "fbox") {
        const [inner, next] = readArgument(src, i);
        i = next;
        out += `<span class="boxed">${renderTex(inner, depth + 1)}</span>`;
      } else if (name === "sqrt") {
        const [inner, next] = readArgument(src, i);
        i = next;
        out += `√<span class="sqrt">${renderTex(inner, depth + 1)}</span>`;
      } else if (PLAIN_GROUPS.has(name) && src[i] === "{") {
        const [inner, next] = readArgument(src, i);
        i = next;
        out += renderTex(inner, depth + 1);
      } else if (name in SYMBOLS) {
        out += SYMBOLS[name];
      } else if (name === "(" || name === ")" || name === "[" || name === "]" || DROPPED.has(name)) {
        out += "";
      } else {
        out += escapeHtml("\\" + name);
      }
    } else if (c === "^" || c === "_") {
      const [inner, next] = readArgument(src, i + 1);
      i = next;
      const tag = c === "^" ? "sup" : "sub";
      out += `<${tag}>${renderTex(inner, depth + 1)}</${tag}>`;
    } else if (c === "{") {
      const [inner, next] = readArgument(src, i);
      i = next;
      out += renderTex(inner, depth + 1);
    } else if (c === "$") {
      i += 1;
    } else {
      out += escapeHtml(c);
      i += 1;
    }
  }
  return out;
}

// ---------- Splitting a response into reasoning and final answer ----------

function lastBoxed(text) {
  const start = Math.max(text.lastIndexOf("\\boxed"), text.lastIndexOf("\\fbox"));
  if (start < 0) return null;
  const open = text.indexOf("{", start);
  if (open < 0) return null;
  return readArgument(text, open)[0];
}

function splitResponse(text) {
  let thinking = text;
  let rest = text;
  const open = text.indexOf("<think>");
  if (open >= 0) {
    const close = text.indexOf("</think>", open);
    thinking = close >= 0 ? text.slice(open + 7, close) : text.slice(open + 7);
    rest = close >= 0 ? text.slice(close + 8) : "";
  }
  const tagged = /<answer>([\s\S]*?)(?:<\/answer>|$)/.exec(rest);
  if (open < 0 && tagged) thinking = text.slice(0, tagged.index);
  let answer = tagged ? tagged[1].replace(/^\s*final answer\s*:?/i, "").trim() : null;
  if (answer !== null && lastBoxed(answer) !== null) answer = lastBoxed(answer);
  if (answer === null) answer = lastBoxed(rest);
  return { thinking: thinking.trim(), answer };
}

function showResponse(text, thinkingEl, answerEl) {
  const parts = splitResponse(text);
  thinkingEl.innerHTML = renderTex(parts.thinking);
  if (answerEl) {
    answerEl.innerHTML = parts.answer === null ? '<span class="muted">no final answer yet</span>' :
      renderTex(parts.answer);
  }
  return parts.answer;
}

// ---------- Talking to the server ----------

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = !message;
}

async function errorMessage(response) {
  let message = `HTTP ${response.status}`;
  try {
    const body = await response.json();
    message = (body.error && body.error.message) || message;
  } catch (_) { /* not JSON: keep the status line */ }
  if (response.status === 503) return `The server is busy: ${message}. Please try again in a moment.`;
  if (response.status === 400 || response.status === 413) return `The request was refused: ${message}`;
  return message;
}

// POSTs `body` and calls onChunk(chunk) for each SSE data object; throws an Error with a readable message.
async function streamJson(url, body, onChunk) {
  const response = await fetch(url, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(await errorMessage(response));
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      if (!event.startsWith("data: ")) continue;
      const data = event.slice(6);
      if (data === "[DONE]") return;
      const chunk = JSON.parse(data);
      if (chunk.error) throw new Error(chunk.error.message);
      onChunk(chunk);
    }
  }
}

// The page wraps the question in its chosen template itself, so it asks the server not to wrap it again.
const AS_WRITTEN = { template: "plain" };

function samplingSettings() {
  return {
    temperature: Number($("temperature").value),
    top_p: Number($("top-p").value),
    max_tokens: Math.round(Number($("max-tokens").value)),
  };
}

function buildMessages() {
  const template = state.settings.templates[$("template").value];
  const text = template.user.split("{question}").join($("question").value);
  const content = [];
  if (state.image) content.push({ type: "image_url", image_url: { url: state.image } });
  content.push({ type: "text", text });
  const messages = [];
  if (template.system) messages.push({ role: "system", content: template.system });
  messages.push({ role: "user", content });
  return messages;
}

function setBusy(busy) {
  state.busy = busy;
  $("send").disabled = busy;
  $("rethink").disabled = busy || !state.response;
  document.body.dataset.state = busy ? "generating" : "idle";
}

async function send() {
  showError("");
  if (!$("question").value.trim()) {
    showError("Please type a question.");
    return;
  }
  state.messages = buildMessages();
  state.response = "";
  $("thinking").textContent = "";
  $("answer").textContent = "";
  $("rethink-output").textContent = "";
  setBusy(true);
  let text = "";
  try {
    const body = { messages: state.messages, stream: true, ...AS_WRITTEN, ...samplingSettings() };
    await streamJson("/v1/chat/completions", body, (chunk) => {
      for (const choice of chunk.choices) text += choice.delta.content || "";
      showResponse(text, $("thinking"), $("answer"));
    });
    state.response = text;
    if (!text) showError("The model returned an empty answer.");
  } catch (error) {
    showError(error.message);
  } finally {
    setBusy(false);
    document.body.dataset.state = "done";
  }
}

function section(id, title) {
  const box = document.createElement("div");
  box.className = "rethink-step";
  const heading = document.createElement("h3");
  heading.textContent = title;
  const body = document.createElement("div");
  body.id = id;
  box.append(heading, body);
  $("rethink-output").append(box);
  return body;
}

async function rethink() {
  if (!state.response) return;
  showError("");
  $("rethink-output").textContent = "";
  const trigger = state.settings.triggers[$("trigger").value];
  const first = section("rethink-first", "First answer");
  showResponse(state.response, first, null);
  section("rethink-trigger", "Trigger").textContent = trigger.trim();
  const continuation = section("rethink-continuation", "Rethought answer");
  const verdict = section("rethink-verdict", "Did the final answer change?");
  setBusy(true);
  let text = "";
  try {
    const body = {
      messages: state.messages, response: state.response, trigger, cut: $("cut").checked, stream: true,
      ...AS_WRITTEN, ...samplingSettings(),
    };
    await streamJson("/api/rethink", body, (chunk) => {
      for (const choice of chunk.choices) {
        text += choice.delta.content || "";
        continuation.innerHTML = renderTex(text);
        if (choice.rethink) showVerdict(verdict, choice.rethink);
      }
    });
  } catch (error) {
    showError(error.message);
  } finally {
    setBusy(false);
    document.body.dataset.state = "done";
  }
}

function showVerdict(element, verdict) {
  const shown = (answer) => (answer === null ? "(none)" : renderTex(answer));
  element.className = verdict.answer_changed ? "verdict changed" : "verdict unchanged";
  element.innerHTML = verdict.answer_changed ?
    `Changed: ${shown(verdict.first_answer)} → ${shown(verdict.final_answer)}` :
    `Unchanged: ${shown(verdict.final_answer)}`;
}

// ---------- Images and examples ----------

function setImage(dataUrl) {
  state.image = dataUrl;
  $("image-preview").src = dataUrl || "";
  $("image-preview").hidden = !dataUrl;
  $("drop-hint").hidden = Boolean(dataUrl);
}

function readImageFile(file) {
  if (!file) return;
  if (!file.type.startsWith("image/")) {
    showError(`${file.name || "That file"} is not an image.`);
    return;
  }
  const reader = new FileReader();
  reader.onload = () => { showError(""); setImage(reader.result); };
  reader.onerror = () => showError("Could not read that image.");
  reader.readAsDataURL(file);
}

async function loadJson(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(await errorMessage(response));
  return response.json();
}

async function init() {
  try {
    state.settings = await loadJson("/api/settings");
    for (const [name, text] of Object.entries(state.settings.triggers)) {
      const option = document.createElement("option");
      option.value = name;
      option.textContent = `${name}: ${text.trim()}`;
      $("trigger").append(option);
    }
    $("max-tokens").max = state.settings.max_new_tokens;
    $("max-tokens").value = Math.min(Number($("max-tokens").value), state.settings.max_new_tokens);
    const examples = await loadJson("/api/examples");
    examples.forEach((example, index) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "example";
      button.dataset.index = String(index);
      button.title = example.question;
      button.innerHTML = `<img src="${example.image}" alt=""><span>${escapeHtml(example.question.split("\n")[0])}</span>`;
      button.addEventListener("click", () => {
        setImage(example.image);
        $("question").value = example.question;
      });
      $("examples").append(button);
    });
  } catch (error) {
    showError(`Could not load the demo settings: ${error.message}`);
  }
  $("image-input").addEventListener("change", (event) => readImageFile(event.target.files[0]));
  $("send").addEventListener("click", send);
  $("rethink").addEventListener("click", rethink);
  document.addEventListener("paste", (event) => {
    const item = [...(event.clipboardData || { items: [] }).items].find((entry) => entry.type.startsWith("image/"));
    if (item) readImageFile(item.getAsFile());
  });
  const zone = $("drop-zone");
  zone.addEventListener("dragover", (event) => event.preventDefault());
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    readImageFile(event.dataTransfer.files[0]);
  });
  document.body.dataset.state = "idle";
}

init();
