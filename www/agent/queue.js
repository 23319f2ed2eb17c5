// The queue: open conversations of the agent's apps that no agent has, in
// routing order (high priority first, then oldest), as the server gives
// them. Refreshed on a timer, on every live frame (coalesced) and after a
// take; "Take" assigns one to the logged-in agent.

import * as api from "./api.js";
import { h, replaceChildren, srOnly, timeEl } from "./dom.js";
import { priorityPill } from "./pills.js";
import { ANONYMOUS } from "./timeline.js";

const REFRESH_MS = 10_000;
const SOON_MS = 300;

const holdFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });

/** "HH:MM" of Unix milliseconds, in the agent's locale and time zone. */
export function holdTime(ms) {
  const date = new Date(Number(ms));
  return Number.isNaN(date.getTime()) ? "" : holdFormat.format(date);
}

/** Whether a conversation is still held for the customer's login. */
export function isHeld(c, now = Date.now()) {
  return Number.isFinite(c?.held_until) && c.held_until > now;
}

export class QueuePanel {
  /**
   * - `list`, `count`, `note`, `heading`: the `<ul>`, the heading's count,
   *   a line for "empty" or "cannot load", and the heading (focusable, for
   *   when the focused item leaves);
   * - `teamName(id)`: a team's display name;
   * - `currentId()`: the conversation shown, for `aria-current`;
   * - `onOpen(id)`, `onTake(conversation)`: the console's actions;
   * - `onError(error)`: a 401 (the console logs out);
   * - `announce(text)`: polite announcements.
   */
  constructor({ list, count, note, heading, teamName, currentId, onOpen, onTake, onError, announce }) {
    Object.assign(this, { list, count, note, heading, teamName, currentId, onOpen, onTake, onError, announce });
    this.items = [];
    this.token = 0;
    this.timer = null;
    this.soonTimer = null;
    this.loaded = false;
    this.busy = new Set();
    list.addEventListener("click", (event) => {
      const take = event.target.closest('[data-agent="take"]');
      if (take) {
        this.#take(take.dataset.id);
        return;
      }
      const open = event.target.closest('[data-agent="queue-open"]');
      if (open) this.onOpen(open.dataset.id);
    });
  }

  /** Starts refreshing (after login). */
  start() {
    this.stop();
    this.timer = setInterval(() => {
      if (!document.hidden) this.refresh();
    }, REFRESH_MS);
    this.refresh();
  }

  /** Stops and forgets everything (logout). */
  stop() {
    clearInterval(this.timer);
    clearTimeout(this.soonTimer);
    this.timer = null;
    this.token += 1;
    this.items = [];
    this.signature = null;
    this.loaded = false;
    this.busy.clear();
    this.list.replaceChildren();
    this.count.textContent = "";
    this.note.textContent = "";
  }

  /** A refresh shortly, coalescing bursts of live frames. */
  soon() {
    if (!this.timer) return;
    clearTimeout(this.soonTimer);
    this.soonTimer = setTimeout(() => this.refresh(), SOON_MS);
  }

  get(id) {
    return this.items.find((c) => c.id === id) ?? null;
  }

  /** Drops a conversation at once (taken here), before the next refresh. */
  remove(id) {
    this.items = this.items.filter((c) => c.id !== id);
    this.signature = null;
    this.render();
  }

  async refresh() {
    const token = ++this.token;
    try {
      const data = await api.get("/queue");
      if (token !== this.token) return;
      const before = new Set(this.items.map((c) => c.id));
      const items = Array.isArray(data?.conversations) ? data.conversations : [];
      // Unchanged: leave the DOM alone (a screen reader reading it keeps its place).
      const signature = JSON.stringify(items);
      const failed = Boolean(this.note.textContent) && this.note.textContent !== "Nobody is waiting.";
      if (this.loaded && signature === this.signature && !failed) return;
      this.signature = signature;
      this.items = items;
      const arrived = this.items.filter((c) => !before.has(c.id)).length;
      if (this.loaded && arrived > 0) {
        this.announce(arrived === 1 ? "A conversation is waiting in the queue." : `${arrived} new conversations are waiting in the queue.`);
      }
      this.loaded = true;
      this.note.textContent = "";
      this.render();
    } catch (error) {
      if (token !== this.token) return;
      if (error.status === 401) {
        this.onError(error);
        return;
      }
      // Shown in the panel, not the error bar: the timer retries.
      this.note.textContent = `The queue could not be loaded (${error.message}).`;
    }
  }

  /** Re-renders, keeping keyboard focus on the same item's same control. */
  render() {
    const focused = document.activeElement?.closest?.('[data-agent="queue-item"]') ? document.activeElement : null;
    const focusId = focused?.dataset.id;
    const focusHook = focused?.dataset.agent;
    const current = this.currentId();
    replaceChildren(this.list, this.items.map((c) => this.#item(c, current)));
    this.count.textContent = this.loaded ? `${this.items.length} waiting` : "";
    if (this.loaded && !this.items.length && !this.note.textContent) {
      this.note.textContent = "Nobody is waiting.";
    } else if (this.items.length && this.note.textContent === "Nobody is waiting.") {
      this.note.textContent = "";
    }
    if (focusId) {
      const selector = `[data-agent="${CSS.escape(focusHook)}"][data-id="${CSS.escape(focusId)}"]`;
      const again = this.list.querySelector(selector);
      const fallback = again ?? this.list.querySelector('[data-agent="take"]') ?? this.heading;
      fallback?.focus();
    }
  }

  #item(c, current) {
    const customer = c.customer ?? {};
    const name = customer.name || ANONYMOUS;
    const contact = [customer.email, customer.phone].filter(Boolean).join(" · ");
    const team = c.team_id ? this.teamName(c.team_id) : null;
    const held = isHeld(c);
    return h(
      "li",
      {},
      h(
        "div",
        {
          class: "queue-item",
          "data-agent": "queue-item",
          "data-id": c.id,
          "data-priority": c.priority || "normal",
          "data-held": held ? "true" : "false",
        },
        h(
          "button",
          {
            type: "button",
            class: "queue-item__open",
            "data-agent": "queue-open",
            "data-id": c.id,
            "aria-current": current === c.id ? "true" : null,
            title: "Look at the conversation without taking it",
          },
          h(
            "span",
            { class: "conversation__top" },
            h("span", { class: "conversation__name", dir: "auto" }, name),
            h("span", { class: "queue-item__since" }, srOnly("waiting since "), timeEl(c.created_at, { withDay: true })),
          ),
          contact ? h("span", { class: "conversation__contact", dir: "auto" }, contact) : null,
          h("span", { class: "conversation__preview", dir: "auto" }, c.last_message_preview || "No messages yet"),
        ),
        h(
          "span",
          { class: "queue-item__facts" },
          priorityPill(c.priority, {}, { short: true }),
          h(
            "span",
            { class: "queue-item__where", "data-agent": "queue-app" },
            srOnly("App "),
            h("span", { dir: "auto" }, c.app_id),
            team ? [" · ", srOnly("team "), h("span", { dir: "auto" }, team)] : null,
          ),
          c.rule ? h("span", { class: "tag", "data-agent": "queue-rule", dir: "auto" }, `Rule: ${c.rule}`) : null,
          held
            ? h("span", { class: "tag tag--held", "data-agent": "queue-held" }, `Waiting for login until ${holdTime(c.held_until)}`)
            : null,
        ),
        h(
          "button",
          {
            type: "button",
            class: "button button--primary button--small queue-item__take",
            "data-agent": "take",
            "data-id": c.id,
            "aria-disabled": this.busy.has(c.id) ? "true" : null,
          },
          "Take",
          srOnly(` the conversation with ${name}`),
        ),
      ),
    );
  }

  async #take(id) {
    const c = this.get(id);
    if (!c || this.busy.has(id)) return;
    this.busy.add(id);
    this.render();
    try {
      await this.onTake(c);
    } finally {
      this.busy.delete(id);
      this.render();
      this.soon();
    }
  }
}
