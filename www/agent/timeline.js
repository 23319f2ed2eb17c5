// The conversation timeline: messages in `seq` order, the trusted icon on
// trusted messages, and a divider where the customer logged in mid-chat.

import { h, safeHttpUrl, timeEl, trustedIcon } from "./dom.js";

export const ANONYMOUS = "Anonymous visitor";

/**
 * Whether a login marker goes before `message`, given the trusted flag of
 * the customer message before it (`null` when there is none): a trusted
 * customer message right after an untrusted one is where the customer
 * logged in.
 */
export function startsVerifiedRun(previousCustomerTrusted, message) {
  return message.author === "customer" && message.trusted && previousCustomerTrusted === false;
}

/**
 * Draws one conversation into a `role="log"` element and appends to it as
 * messages arrive, so the live region announces only what is new.
 */
export class Timeline {
  constructor(root) {
    this.root = root;
    this.messages = [];
    this.lastCustomerTrusted = null;
    this.state = "open";
    this.customerName = ANONYMOUS;
    this.conversationId = null;
    this.seenSeq = 0;
  }

  /**
   * Replaces everything. The customer's read marker only moves forward
   * within a conversation: redrawing the same one (`id`) keeps a `read`
   * frame that came after the server's summary was read.
   */
  reset(messages, { id = null, state, customerName, seenSeq = 0 }) {
    if (id === null || id !== this.conversationId) this.seenSeq = 0;
    this.conversationId = id;
    this.state = state;
    this.customerName = customerName || ANONYMOUS;
    this.messages = [];
    this.lastCustomerTrusted = null;
    this.root.setAttribute("aria-busy", "true");
    this.root.replaceChildren();
    for (const message of [...messages].sort((a, b) => a.seq - b.seq)) this.#append(message);
    this.setSeen(seenSeq);
    this.root.setAttribute("aria-busy", "false");
    this.scrollToEnd();
  }

  /** The highest `seq` shown, 0 when empty. */
  get lastSeq() {
    return this.messages.length ? this.messages[this.messages.length - 1].seq : 0;
  }

  has(seq) {
    return this.messages.some((m) => m.seq === seq);
  }

  /**
   * Adds a message. Returns false when it cannot simply go at the end (a
   * gap or an older one): the caller then refetches and `reset`s.
   */
  add(message) {
    if (this.has(message.seq)) return true;
    if (message.seq !== this.lastSeq + 1) return false;
    const nearBottom = this.root.scrollHeight - this.root.scrollTop - this.root.clientHeight < 80;
    this.#append(message);
    // The customer may have read it before it got here: the agent's own
    // reply is added when its POST answers, and their `read` can be first.
    if (message.author === "agent" && message.seq <= this.seenSeq) this.setSeen(this.seenSeq);
    if (nearBottom || message.author === "agent") this.scrollToEnd();
    return true;
  }

  /** Open or closed: the trusted icons follow it (green, gray). */
  setState(state) {
    this.state = state;
    for (const icon of this.root.querySelectorAll('[data-agent="trusted-icon"]')) {
      icon.setAttribute("data-state", state);
    }
  }

  /** The customer's display name changed (e.g. they logged in). */
  setCustomerName(name) {
    this.customerName = name || ANONYMOUS;
  }

  scrollToEnd() {
    this.root.scrollTop = this.root.scrollHeight;
  }

  /**
   * "Seen" under the last agent message the customer has read (up to
   * `seq`), and nowhere else.
   */
  setSeen(seq) {
    this.seenSeq = Math.max(this.seenSeq ?? 0, seq || 0);
    for (const old of this.root.querySelectorAll('[data-agent="seen"]')) old.remove();
    const read = this.messages.filter((m) => m.author === "agent" && m.seq <= this.seenSeq);
    const last = read[read.length - 1];
    if (!last) return;
    const el = this.root.querySelector(`[data-agent="message"][data-seq="${last.seq}"]`);
    el?.append(h("p", { class: "message__seen", "data-agent": "seen" }, "Seen"));
  }

  #append(message) {
    if (message.author === "customer") {
      if (startsVerifiedRun(this.lastCustomerTrusted, message)) this.root.append(loginMarker());
      this.lastCustomerTrusted = Boolean(message.trusted);
    }
    this.messages.push(message);
    this.root.append(this.#render(message));
  }

  #render(message) {
    const customer = message.author === "customer";
    // A customer message carries the name its own session gave: two people
    // claiming one email read as two names, never as the profile's.
    const author = customer ? message.author_name || this.customerName : message.author_name || "Agent";
    const loginRequest = message.kind === "login_request";
    const trusted = customer && message.trusted === true;
    const el = h(
      "div",
      {
        class: `message message--${customer ? "customer" : "agent"}${loginRequest ? " message--login-request" : ""}`,
        "data-agent": "message",
        "data-seq": message.seq,
        "data-author": customer ? "customer" : "agent",
        "data-trusted": trusted ? "true" : "false",
        "data-kind": loginRequest ? "login_request" : "text",
      },
      h(
        "div",
        { class: "message__meta" },
        h("span", { class: "message__author", dir: "auto" }, author),
        trusted ? trustedIcon(this.state) : null,
        timeEl(message.created_at, { withDay: true }),
      ),
    );
    if (loginRequest) {
      el.append(h("p", { class: "message__note" }, "Asked the customer to log in"));
    }
    if (message.body) el.append(h("p", { class: "message__body", dir: "auto" }, message.body));
    if (loginRequest && message.link) el.append(linkLine(message.link));
    return el;
  }
}

function loginMarker() {
  return h(
    "div",
    { class: "login-marker", "data-agent": "login-marker" },
    h("span", {}, "Customer logged in — messages from here are verified"),
  );
}

/** The login link of a login request: a link when it is http(s), text otherwise. */
function linkLine(link) {
  const url = safeHttpUrl(link);
  const target = url
    ? h("a", { href: url, target: "_blank", rel: "noopener noreferrer", dir: "ltr" }, link)
    : h("span", { dir: "ltr" }, link);
  return h("p", { class: "message__link" }, "Login link: ", target);
}
