// Search: conversations of the agent's apps by customer name, email, phone
// or message text, newest first. Results open like past conversations do
// (read-only unless the conversation is the agent's and open).

import * as api from "./api.js";
import { dayTimeText, h, replaceChildren } from "./dom.js";
import { priorityPill, statusPill, verificationPill } from "./pills.js";
import { ANONYMOUS } from "./timeline.js";

const TYPING_MS = 350;

export class SearchPanel {
  /**
   * - `form`, `input`: the `role="search"` form and its box;
   * - `section`, `list`, `count`, `clear`, `heading`: the results;
   * - `currentId()`: the conversation shown, for `aria-current`;
   * - `onOpen(id)`: opens a result;
   * - `onError(error)`, `announce(text)`.
   */
  constructor({ form, input, section, list, count, clear, heading, currentId, onOpen, onError, announce }) {
    Object.assign(this, { form, input, section, list, count, clear, heading, currentId, onOpen, onError, announce });
    this.token = 0;
    this.typingTimer = null;
    this.query = "";
    this.results = [];
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      clearTimeout(this.typingTimer);
      this.run(input.value);
    });
    input.addEventListener("input", () => {
      clearTimeout(this.typingTimer);
      const q = input.value.trim();
      if (!q) {
        this.reset();
        return;
      }
      if (q.length >= 2) this.typingTimer = setTimeout(() => this.run(input.value), TYPING_MS);
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !section.hidden) {
        event.preventDefault();
        input.value = "";
        this.reset();
      } else if (event.key === "ArrowDown" && !section.hidden) {
        const first = list.querySelector('[data-agent="search-result"]');
        if (first) {
          event.preventDefault();
          first.focus();
        }
      }
    });
    clear.addEventListener("click", () => {
      input.value = "";
      this.reset();
      input.focus();
    });
    list.addEventListener("click", (event) => {
      const button = event.target.closest('[data-agent="search-result"]');
      if (button) this.onOpen(button.dataset.id);
    });
    list.addEventListener("keydown", (event) => this.#onListKey(event));
  }

  /** Searches for `text`; an empty query clears the results. */
  async run(text) {
    const q = String(text ?? "").trim();
    if (!q) {
      this.reset();
      return;
    }
    const token = ++this.token;
    this.query = q;
    this.section.hidden = false;
    this.section.setAttribute("aria-busy", "true");
    this.count.textContent = "searching…";
    try {
      const data = await api.get(`/search?q=${encodeURIComponent(q)}`);
      if (token !== this.token) return;
      this.results = Array.isArray(data?.conversations) ? data.conversations : [];
      this.render();
      const n = this.results.length;
      this.announce(n === 0 ? `No conversations match “${q}”.` : `${n === 1 ? "One conversation" : `${n} conversations`} found.`);
    } catch (error) {
      if (token !== this.token) return;
      if (error.status === 401) {
        this.onError(error);
        return;
      }
      this.results = [];
      this.render(`The search failed: ${error.message}.`);
    } finally {
      if (token === this.token) this.section.setAttribute("aria-busy", "false");
    }
  }

  /** Hides the results. */
  reset() {
    this.token += 1;
    clearTimeout(this.typingTimer);
    this.query = "";
    this.results = [];
    this.section.hidden = true;
    this.list.replaceChildren();
    this.count.textContent = "";
  }

  /** Re-renders (after another conversation was opened). */
  render(problem = "") {
    if (this.section.hidden) return;
    const focusedId = document.activeElement?.closest?.('[data-agent="search-result"]')?.dataset.id;
    const current = this.currentId();
    const n = this.results.length;
    this.count.textContent = problem ? "" : `(${n}${n === 50 ? "+" : ""})`;
    replaceChildren(
      this.list,
      problem
        ? h("li", { class: "result-list__empty alert" }, problem)
        : n
          ? this.results.map((c) => resultItem(c, current))
          : h("li", { class: "result-list__empty muted" }, `No conversations match “${this.query}”.`),
    );
    if (focusedId) this.list.querySelector(`[data-id="${CSS.escape(focusedId)}"]`)?.focus();
  }

  /** Up/Down/Home/End move between results; Up from the first goes back to the box. */
  #onListKey(event) {
    const buttons = [...this.list.querySelectorAll('[data-agent="search-result"]')];
    const index = buttons.indexOf(document.activeElement);
    if (index < 0) return;
    if (event.key === "Escape") {
      event.preventDefault();
      this.input.focus();
      return;
    }
    if (event.key === "ArrowUp" && index === 0) {
      event.preventDefault();
      this.input.focus();
      return;
    }
    const next = { ArrowDown: index + 1, ArrowUp: index - 1, Home: 0, End: buttons.length - 1 }[event.key];
    if (next === undefined || !buttons[next]) return;
    event.preventDefault();
    buttons[next].focus();
  }
}

function resultItem(c, current) {
  const customer = c.customer ?? {};
  const contact = [customer.email, customer.phone].filter(Boolean).join(" · ");
  return h(
    "li",
    {},
    h(
      "button",
      {
        type: "button",
        class: "conversation result",
        "data-agent": "search-result",
        "data-id": c.id,
        "data-status": c.status,
        "aria-current": current === c.id ? "true" : null,
      },
      h(
        "span",
        { class: "conversation__top" },
        h("span", { class: "conversation__name", dir: "auto" }, customer.name || ANONYMOUS),
        h("span", { class: "result__date" }, dayTimeText(c.last_activity_at || c.created_at)),
      ),
      contact ? h("span", { class: "conversation__contact", dir: "auto" }, contact) : null,
      h("span", { class: "conversation__preview", dir: "auto" }, c.last_message_preview || "No messages"),
      h(
        "span",
        { class: "conversation__bottom" },
        statusPill(c.status),
        verificationPill(Boolean(customer.verified)),
        c.priority && c.priority !== "normal" ? priorityPill(c.priority, {}, { short: true }) : null,
        h("span", { class: "result__app muted" }, `App ${c.app_id}`),
      ),
    ),
  );
}
