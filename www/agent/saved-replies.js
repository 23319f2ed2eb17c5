// Saved replies: the texts of the agent's teams, inserted with "/" at the
// start of the reply box, and a dialog to list, add and delete them.
//
// The "/" menu follows the combobox-with-listbox pattern on the reply
// textarea: it keeps the focus, `aria-controls` names the listbox and
// `aria-activedescendant` the highlighted option; Up/Down move, Enter
// inserts, Escape closes. (A `<textarea>` keeps its textbox role, which
// allows `aria-autocomplete` and `aria-activedescendant` but not
// `aria-expanded`; the listbox's appearing and its count are announced in
// a polite live region instead.)

import * as api from "./api.js";
import { h, replaceChildren, srOnly } from "./dom.js";

const MAX_OPTIONS = 8;

/** The replies as `GET /saved-replies` gives them, shared by the menu and the dialog. */
export class SavedReplies {
  constructor() {
    this.all = [];
    this.loaded = false;
    this.listeners = new Set();
  }

  async load() {
    const data = await api.get("/saved-replies");
    this.all = Array.isArray(data?.saved_replies) ? data.saved_replies : [];
    this.loaded = true;
    for (const listener of this.listeners) listener();
  }

  clear() {
    this.all = [];
    this.loaded = false;
    for (const listener of this.listeners) listener();
  }

  onChange(listener) {
    this.listeners.add(listener);
  }

  /**
   * The replies usable in `conversation`: its team's, or when it has none,
   * those of the agent's `teams` that serve its app.
   */
  forConversation(conversation, teams) {
    if (!conversation) return [];
    if (conversation.team_id) return this.all.filter((r) => r.team_id === conversation.team_id);
    const serving = new Set((teams ?? []).filter((t) => (t.apps ?? []).includes(conversation.app_id)).map((t) => t.id));
    return this.all.filter((r) => serving.has(r.team_id));
  }
}

/** Replies matching `query` in title or body, case-insensitive; title matches first. */
export function filterReplies(replies, query) {
  const q = query.trim().toLocaleLowerCase();
  if (!q) return [...replies];
  const inTitle = [];
  const inBody = [];
  for (const r of replies) {
    if (String(r.title).toLocaleLowerCase().includes(q)) inTitle.push(r);
    else if (String(r.body).toLocaleLowerCase().includes(q)) inBody.push(r);
  }
  return inTitle.concat(inBody);
}

/**
 * The "/" at the start of the reply box: `{ query, end }` while the caret
 * is on the first line of a value starting with "/", where `end` is where
 * the "/query" that an insertion replaces ends (the caret); else `null`.
 */
export function slashQuery(value, caret) {
  if (!value.startsWith("/")) return null;
  const lineEnd = value.indexOf("\n");
  const firstLineEnd = lineEnd < 0 ? value.length : lineEnd;
  if (caret < 1 || caret > firstLineEnd) return null;
  return { query: value.slice(1, caret), end: caret };
}

/** The "/" menu on the reply textarea. */
export class ReplyMenu {
  /**
   * - `textarea`: the reply box; `popup`: the container shown under it;
   *   `listbox`: the `role="listbox"` `<ul>`; `empty`: the "no match" line;
   *   `status`: a polite live region;
   * - `replies()`: the replies usable in the open conversation;
   * - `onOpen()`: the menu appeared (the caller may refresh the replies
   *   and call `update()` again).
   */
  constructor({ textarea, popup, listbox, empty, status, replies, onOpen = () => {} }) {
    Object.assign(this, { textarea, popup, listbox, empty, status, replies, onOpen });
    this.options = [];
    this.active = -1;
    this.range = null;
    this.dismissedValue = null;
    textarea.setAttribute("aria-autocomplete", "list");
    textarea.setAttribute("aria-controls", listbox.id);
    textarea.addEventListener("input", () => this.update());
    textarea.addEventListener("click", () => this.update());
    textarea.addEventListener("keyup", (event) => {
      if (["ArrowLeft", "ArrowRight", "Home", "End"].includes(event.key)) this.update();
    });
    textarea.addEventListener("blur", () => this.close());
    // Choosing with the mouse must not take the focus from the textarea.
    listbox.addEventListener("mousedown", (event) => event.preventDefault());
    listbox.addEventListener("click", (event) => {
      const option = event.target.closest('[role="option"]');
      if (option) this.insert(Number(option.dataset.index));
    });
  }

  get isOpen() {
    return !this.popup.hidden;
  }

  /** Opens, filters or closes the menu from the textarea's value and caret. */
  update() {
    const value = this.textarea.value;
    if (this.dismissedValue !== null && value === this.dismissedValue) return;
    this.dismissedValue = null;
    const found = slashQuery(value, this.textarea.selectionStart ?? value.length);
    if (!found || this.textarea.selectionStart !== this.textarea.selectionEnd) {
      this.close();
      return;
    }
    this.range = found;
    const all = this.replies();
    const matches = filterReplies(all, found.query);
    const wasOpen = this.isOpen;
    const previous = this.options[this.active]?.id;
    this.options = matches.slice(0, MAX_OPTIONS);
    const keep = this.options.findIndex((r) => r.id === previous);
    this.active = this.options.length ? Math.max(0, keep) : -1;
    this.#render(all.length);
    this.popup.hidden = false;
    if (!wasOpen || this.options.length !== this.lastCount) this.#announce(all.length);
    this.lastCount = this.options.length;
    if (!wasOpen) this.onOpen();
  }

  close() {
    if (!this.isOpen && this.active < 0) return;
    this.popup.hidden = true;
    this.options = [];
    this.active = -1;
    this.range = null;
    this.lastCount = -1;
    this.listbox.replaceChildren();
    this.textarea.removeAttribute("aria-activedescendant");
  }

  /**
   * The textarea's keydown while the menu is open: true when the key was
   * the menu's (the caller then does nothing more with it).
   */
  onKeyDown(event) {
    if (!this.isOpen || event.isComposing) return false;
    switch (event.key) {
      case "ArrowDown":
      case "ArrowUp": {
        if (!this.options.length) return false;
        event.preventDefault();
        const step = event.key === "ArrowDown" ? 1 : -1;
        this.active = (this.active + step + this.options.length) % this.options.length;
        this.#highlight();
        return true;
      }
      case "Enter":
        if (event.shiftKey || event.altKey || event.ctrlKey || event.metaKey || this.active < 0) return false;
        event.preventDefault();
        this.insert(this.active);
        return true;
      case "Escape":
        event.preventDefault();
        this.dismissedValue = this.textarea.value;
        this.close();
        this.status.textContent = "Saved replies closed.";
        return true;
      case "Tab":
        this.close();
        return false;
      default:
        return false;
    }
  }

  /** Puts option `index`'s body in place of the "/query". */
  insert(index) {
    const reply = this.options[index];
    const range = this.range;
    if (!reply || !range) return;
    const value = this.textarea.value;
    const next = reply.body + value.slice(range.end);
    this.textarea.value = next;
    const caret = reply.body.length;
    this.textarea.setSelectionRange(caret, caret);
    this.dismissedValue = next;
    this.close();
    this.textarea.focus();
    this.status.textContent = `Inserted “${reply.title}”.`;
  }

  #render(total) {
    if (!this.options.length) {
      this.listbox.replaceChildren();
      this.listbox.hidden = true;
      this.empty.hidden = false;
      this.empty.textContent = total
        ? `No saved reply matches “${this.range.query}”. Escape closes this.`
        : "No saved replies for this conversation's team yet. Add them under “Saved replies” at the top.";
      this.textarea.removeAttribute("aria-activedescendant");
      return;
    }
    this.empty.hidden = true;
    this.listbox.hidden = false;
    replaceChildren(
      this.listbox,
      this.options.map((r, i) =>
        h(
          "li",
          {
            id: `${this.listbox.id}-option-${i}`,
            role: "option",
            class: "saved-menu__option",
            "data-agent": "saved-reply-option",
            "data-id": r.id,
            "data-index": i,
            "aria-selected": i === this.active ? "true" : "false",
          },
          h("span", { class: "saved-menu__title", dir: "auto" }, r.title),
          h("span", { class: "saved-menu__body", dir: "auto" }, r.body),
        ),
      ),
    );
    this.#highlight();
  }

  #highlight() {
    const items = [...this.listbox.querySelectorAll('[role="option"]')];
    items.forEach((el, i) => el.setAttribute("aria-selected", i === this.active ? "true" : "false"));
    const active = items[this.active];
    if (active) {
      this.textarea.setAttribute("aria-activedescendant", active.id);
      active.scrollIntoView({ block: "nearest" });
    } else {
      this.textarea.removeAttribute("aria-activedescendant");
    }
  }

  #announce(total) {
    const n = this.options.length;
    this.status.textContent = n
      ? `${n === 1 ? "One saved reply" : `${n} saved replies`}. Up and Down choose, Enter inserts, Escape closes.`
      : total
        ? "No saved reply matches."
        : "No saved replies for this conversation.";
  }
}

/**
 * The "Saved replies" dialog: every reply of the agent's teams by team,
 * a form to add one, and Delete for the console's own.
 */
export class SavedRepliesDialog {
  /**
   * `dialog`, `opener`, `list`, `form`, `team`, `title`, `body`, `error`,
   * `closeButton`: its elements; `store`: the `SavedReplies`; `teams()`:
   * the agent's teams; `onError(error)`: 401s; `announce(text)`.
   */
  constructor({ dialog, opener, list, form, team, title, body, error, closeButton, store, teams, onError, announce }) {
    Object.assign(this, { dialog, opener, list, form, team, title, body, error, closeButton, store, teams, onError, announce });
    opener.addEventListener("click", () => this.open());
    closeButton.addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => {
      this.error.textContent = "";
      if (opener.isConnected && !opener.closest("[hidden]")) opener.focus();
    });
    // A click on the backdrop (outside the dialog's box) closes it.
    dialog.addEventListener("click", (event) => {
      if (event.target === dialog) {
        const r = dialog.getBoundingClientRect();
        const inside = event.clientX >= r.left && event.clientX <= r.right && event.clientY >= r.top && event.clientY <= r.bottom;
        if (!inside) dialog.close();
      }
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.#add();
    });
    list.addEventListener("click", (event) => {
      const button = event.target.closest('[data-agent="saved-reply-delete"]');
      if (button) this.#delete(button.dataset.id);
    });
    store.onChange(() => {
      if (dialog.open) this.render();
    });
  }

  async open() {
    this.renderTeams();
    this.render();
    this.error.textContent = "";
    if (!this.dialog.open) this.dialog.showModal();
    try {
      await this.store.load();
    } catch (error) {
      if (error.status === 401) {
        this.dialog.close();
        this.onError(error);
      } else {
        this.error.textContent = `The saved replies could not be loaded: ${error.message}.`;
      }
    }
  }

  close() {
    if (this.dialog.open) this.dialog.close();
  }

  renderTeams() {
    const teams = this.teams();
    const chosen = this.team.value;
    replaceChildren(
      this.team,
      teams.length ? teams.map((t) => h("option", { value: t.id }, t.name || t.id)) : h("option", { value: "" }, "You are in no team"),
    );
    if (teams.some((t) => t.id === chosen)) this.team.value = chosen;
    const none = !teams.length;
    for (const el of [this.team, this.title, this.body, this.form.querySelector('[type="submit"]')]) el.disabled = none;
  }

  render() {
    const teams = this.teams();
    const teamName = (id) => teams.find((t) => t.id === id)?.name || id;
    const byTeam = new Map();
    for (const r of this.store.all) {
      if (!byTeam.has(r.team_id)) byTeam.set(r.team_id, []);
      byTeam.get(r.team_id).push(r);
    }
    const focusedId = document.activeElement?.closest?.('[data-agent="saved-reply-delete"]')?.dataset.id;
    replaceChildren(
      this.list,
      !this.store.loaded
        ? h("p", { class: "muted" }, "Loading…")
        : byTeam.size === 0
          ? h("p", { class: "muted" }, "No saved replies yet. Add the first one below.")
          : [...byTeam.entries()].map(([teamId, replies]) =>
              h(
                "section",
                { class: "saved-team", "aria-label": `Team ${teamName(teamId)}` },
                h("h3", { class: "saved-team__name" }, `Team ${teamName(teamId)}`),
                h(
                  "ul",
                  { class: "saved-list" },
                  replies.map((r) =>
                    h(
                      "li",
                      { class: "saved-item", "data-agent": "saved-reply", "data-id": r.id, "data-source": r.source },
                      h(
                        "div",
                        { class: "saved-item__head" },
                        h("span", { class: "saved-item__title", dir: "auto" }, r.title),
                        r.source === "console"
                          ? h(
                              "button",
                              { type: "button", class: "button button--small button--danger", "data-agent": "saved-reply-delete", "data-id": r.id },
                              "Delete",
                              srOnly(` “${r.title}”`),
                            )
                          : h("span", { class: "tag", title: "Set in the server's configuration; change it there." }, "From the config"),
                      ),
                      h("p", { class: "saved-item__body", dir: "auto" }, r.body),
                    ),
                  ),
                ),
              ),
            ),
    );
    if (focusedId) this.list.querySelector(`[data-agent="saved-reply-delete"][data-id="${CSS.escape(focusedId)}"]`)?.focus();
  }

  async #add() {
    const teamId = this.team.value;
    const title = this.title.value.trim();
    const body = this.body.value.trim();
    if (!teamId || !title || !body) {
      this.error.textContent = !teamId ? "Choose a team." : !title ? "Give the reply a title." : "Write the reply's text.";
      (!teamId ? this.team : !title ? this.title : this.body).focus();
      return;
    }
    const submit = this.form.querySelector('[type="submit"]');
    submit.disabled = true;
    try {
      await api.post("/saved-replies", { team_id: teamId, title, body });
      this.title.value = "";
      this.body.value = "";
      this.error.textContent = "";
      await this.store.load();
      this.announce(`Saved reply “${title}” added.`);
      this.title.focus();
    } catch (error) {
      if (error.status === 401) {
        this.dialog.close();
        this.onError(error);
      } else {
        this.error.textContent = `The reply could not be saved: ${error.message}.`;
      }
    } finally {
      submit.disabled = false;
    }
  }

  async #delete(id) {
    const reply = this.store.all.find((r) => r.id === id);
    if (!reply) return;
    const buttons = [...this.list.querySelectorAll('[data-agent="saved-reply-delete"]')];
    const index = buttons.findIndex((b) => b.dataset.id === id);
    try {
      await api.del(`/saved-replies/${api.seg(id)}`);
      await this.store.load();
      this.announce(`Saved reply “${reply.title}” deleted.`);
      const rest = [...this.list.querySelectorAll('[data-agent="saved-reply-delete"]')];
      (rest[Math.min(index, rest.length - 1)] ?? this.title).focus();
    } catch (error) {
      if (error.status === 401) {
        this.dialog.close();
        this.onError(error);
      } else {
        this.error.textContent = `The reply could not be deleted: ${error.message}.`;
      }
    }
  }
}
