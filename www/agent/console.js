// The agent console: login, the queue, search, the conversation list, the
// timeline with its trusted icons, the customer profile, and the actions on
// a conversation (saved replies with "/"), kept live over the agent
// WebSocket.
//
// Every customer-supplied string goes through `h` (dom.js), which only
// makes text nodes and attributes: nothing here parses HTML.

import * as api from "./api.js";
import { append, dayTimeText, h, replaceChildren, safeHttpUrl, srOnly, timeEl } from "./dom.js";
import { connectLive } from "./live.js";
import { Notifier } from "./notify.js";
import { priorityPill, ratingBlock, statusPill, verificationPill } from "./pills.js";
import { QueuePanel, holdTime, isHeld } from "./queue.js";
import { ReplyMenu, SavedReplies, SavedRepliesDialog } from "./saved-replies.js";
import { SearchPanel } from "./search.js";
import { ANONYMOUS, Timeline } from "./timeline.js";

const TITLE = "TrustChat agent console";

/** The page's fixed elements, by their `data-agent` hook. */
const ui = Object.fromEntries(
  [
    "announce", "loading", "login-view", "login-form", "login-email", "login-password", "login-error",
    "login-submit", "console-view", "connection", "agent-name", "status", "status-label", "logout", "error",
    "conversation-list", "list-count", "conversation-title", "conversation-meta", "read-only", "timeline",
    "actions", "composer", "reply", "send", "request-login", "request-login-hint", "close", "assign",
    "assign-agent", "assign-submit", "profile-body", "conversation-details",
    "search-form", "search", "search-results", "search-list", "search-count", "search-clear",
    "queue-list", "queue-count", "queue-note",
    "saved-replies-popup", "saved-replies-menu", "saved-replies-empty", "saved-replies-status",
    "saved-replies-open", "saved-replies-dialog", "saved-replies-close", "saved-replies-list",
    "saved-reply-form", "saved-reply-team", "saved-reply-title", "saved-reply-body", "saved-reply-error",
    "notify-enable", "sound-toggle",
  ].map((hook) => [camel(hook), document.querySelector(`[data-agent="${hook}"]`)]),
);

const timeline = new Timeline(ui.timeline);

const state = {
  /** The logged-in agent. */
  me: null,
  /** The agent's teams (`{id, name, apps}`) and the apps they serve. */
  teams: [],
  apps: [],
  /** The agent's conversations by id (what the list shows). */
  conversations: new Map(),
  /** Every agent, for reassigning. */
  agents: [],
  /** The conversation shown: `{ id, conversation, loginUrl }`, or null. */
  open: null,
  /** Bumped on every open, so a late answer for another one is dropped. */
  openToken: 0,
  listToken: 0,
  /** The open conversation's customer profile, once loaded. */
  profile: null,
  /** The live connection, while logged in. */
  live: null,
  /** Per conversation, the highest seq already marked read. */
  readSeq: new Map(),
  /** An unsent reply, with the idempotency key a retry reuses. */
  pendingReply: null,
  sending: false,
};

const savedReplies = new SavedReplies();

const notifier = new Notifier({ enable: ui.notifyEnable, sound: ui.soundToggle });

const queue = new QueuePanel({
  list: ui.queueList,
  count: ui.queueCount,
  note: ui.queueNote,
  heading: document.getElementById("queue-heading"),
  teamName,
  currentId: () => state.open?.id ?? null,
  onOpen: (id) => openConversation(id),
  onTake: take,
  onError: handle,
  announce,
});

const search = new SearchPanel({
  form: ui.searchForm,
  input: ui.search,
  section: ui.searchResults,
  list: ui.searchList,
  count: ui.searchCount,
  clear: ui.searchClear,
  heading: document.getElementById("search-heading"),
  currentId: () => state.open?.id ?? null,
  onOpen: (id) => openConversation(id),
  onError: handle,
  announce,
});

const replyMenu = new ReplyMenu({
  textarea: ui.reply,
  popup: ui.savedRepliesPopup,
  listbox: ui.savedRepliesMenu,
  empty: ui.savedRepliesEmpty,
  status: ui.savedRepliesStatus,
  replies: () => savedReplies.forConversation(state.open?.conversation, state.teams),
  // Other agents add replies too: refetch when the menu opens, at most every 30 s.
  onOpen: () => {
    if (Date.now() - savedRepliesLoadedAt > 30_000) loadSavedReplies();
  },
});
let savedRepliesLoadedAt = 0;
savedReplies.onChange(() => {
  if (replyMenu.isOpen) replyMenu.update();
});

const savedRepliesDialog = new SavedRepliesDialog({
  dialog: ui.savedRepliesDialog,
  opener: ui.savedRepliesOpen,
  list: ui.savedRepliesList,
  form: ui.savedReplyForm,
  team: ui.savedReplyTeam,
  title: ui.savedReplyTitle,
  body: ui.savedReplyBody,
  error: ui.savedReplyError,
  closeButton: ui.savedRepliesClose,
  store: savedReplies,
  teams: () => state.teams,
  onError: handle,
  announce,
});

wire();
boot();

async function boot() {
  try {
    loggedIn(await api.get("/me"));
  } catch (error) {
    showLogin(error.status === 401 ? "" : sentence(error.message), { forgetHash: false });
  }
}

// ---------------------------------------------------------------- session

function loggedIn(info) {
  api.setCsrfToken(info.csrf_token);
  state.me = info.agent;
  setTeams(info);
  ui.loading.hidden = true;
  ui.loginView.hidden = true;
  ui.consoleView.hidden = false;
  setText(ui.loginError, "");
  renderHeader();
  renderList();
  renderConversation();
  state.live?.stop();
  state.live = connectLive({
    onFrame,
    onState: renderConnection,
    stillLoggedIn: async () => {
      try {
        const me = await api.get("/me");
        api.setCsrfToken(me.csrf_token);
        state.me = me.agent;
        setTeams(me);
        return true;
      } catch (error) {
        if (error.status === 401) return false;
        throw error;
      }
    },
    onLoggedOut: () => showLogin("Your session has ended. Log in again."),
  });
  queue.start();
  loadSavedReplies();
  refreshAll().then(() => {
    const id = idFromHash();
    if (id && !state.open) openConversation(id);
  });
}

/** The teams and apps of a `/me` answer (absent from older servers). */
function setTeams(info) {
  state.teams = Array.isArray(info?.teams) ? info.teams : [];
  state.apps = Array.isArray(info?.apps) ? info.apps : [];
}

function teamName(id) {
  return state.teams.find((t) => t.id === id)?.name || id;
}

async function loadSavedReplies() {
  savedRepliesLoadedAt = Date.now();
  try {
    await savedReplies.load();
  } catch (error) {
    if (error.status === 401) handle(error);
    // Otherwise the "/" menu just has nothing to offer; the dialog retries.
  }
}

/**
 * Shows the login form and forgets everything the console showed (the
 * next person at this computer sees nothing of it). `forgetHash` drops the
 * open conversation from the URL too; at boot it stays, to open after login.
 */
function showLogin(message = "", { forgetHash = true } = {}) {
  state.live?.stop();
  state.live = null;
  api.setCsrfToken(null);
  Object.assign(state, { me: null, teams: [], apps: [], agents: [], open: null, profile: null, pendingReply: null });
  queue.stop();
  search.reset();
  ui.search.value = "";
  replyMenu.close();
  savedReplies.clear();
  savedRepliesDialog.close();
  state.conversations.clear();
  state.readSeq.clear();
  state.openToken += 1;
  state.listToken += 1;
  ui.conversationList.replaceChildren();
  timeline.reset([], { state: "open", customerName: "" });
  ui.reply.value = "";
  ui.profileBody.replaceChildren();
  setText(ui.error, "");
  document.title = TITLE;
  if (forgetHash && location.hash) history.replaceState(null, "", location.pathname + location.search);
  ui.loading.hidden = true;
  ui.consoleView.hidden = true;
  ui.loginView.hidden = false;
  setText(ui.loginError, message);
  ui.loginEmail.focus();
}

async function onLogin(event) {
  event.preventDefault();
  const email = ui.loginEmail.value.trim();
  const password = ui.loginPassword.value;
  if (!email || !password) {
    setText(ui.loginError, "Enter your email and your password.");
    (email ? ui.loginPassword : ui.loginEmail).focus();
    return;
  }
  ui.loginSubmit.disabled = true;
  let retryAfter = 0;
  try {
    const info = await api.post("/login", { email, password });
    ui.loginPassword.value = "";
    loggedIn(info);
  } catch (error) {
    if (error.code === "rate_limited") {
      retryAfter = Number(error.retryAfter) || 30;
      setText(ui.loginError, `Too many attempts. Try again in ${retryAfter} seconds.`);
    } else {
      setText(ui.loginError, sentence(error.message));
    }
    ui.loginPassword.select();
    ui.loginPassword.focus();
  } finally {
    if (retryAfter) setTimeout(() => (ui.loginSubmit.disabled = false), retryAfter * 1000);
    else ui.loginSubmit.disabled = false;
  }
}

async function onLogout() {
  try {
    await api.post("/logout", {});
  } catch (error) {
    if (error.status !== 401) {
      showError(error);
      return;
    }
  }
  showLogin();
  announce("You are logged out.");
}

async function onToggleStatus() {
  const next = state.me.status === "available" ? "away" : "available";
  try {
    state.me = await api.post("/status", { status: next });
    renderHeader();
    announce(state.me.status === "available" ? "You are available." : "You are away.");
  } catch (error) {
    handle(error);
  }
}

// ---------------------------------------------------------------- live

function onFrame(frame) {
  // Any change may have moved a conversation into or out of the queue.
  if (frame.type !== "pong") queue.soon();
  switch (frame.type) {
    case "ready":
      if (frame.agent) state.me = frame.agent;
      renderHeader();
      // After any (re)connect, refetch: nothing sent meanwhile is missed.
      refreshAll();
      break;
    case "message":
      onMessage(frame.message, frame.conversation);
      break;
    case "conversation":
      upsert(frame.conversation);
      break;
    case "queue":
      break; // an app's queue changed: refetched above
    case "typing":
      if (frame.conversation_id === state.open?.id) typing.show();
      break;
    case "read":
      if (frame.conversation_id === state.open?.id) timeline.setSeen(frame.seq);
      break;
    default:
      break; // pong, and frames this version does not know
  }
}

function onMessage(message, conversation) {
  const known = conversation && state.conversations.has(conversation.id);
  if (conversation) upsert(conversation);
  if (known && message?.author === "customer" && conversation.assigned_agent_id === state.me?.id) {
    notifier.tell(`New message from ${conversation.customer?.name || ANONYMOUS}`, message.body);
  }
  if (message && state.open?.id === message.conversation_id) {
    if (message.author === "customer") typing.hide();
    if (!timeline.add(message)) refreshOpen();
    markRead();
  }
}

/**
 * A newer summary of a conversation: the list, the open view and the
 * profile follow. `quiet` skips the announcement (the caller makes its own).
 */
function upsert(conversation, { quiet = false } = {}) {
  if (!conversation || !state.me) return;
  const mine = conversation.assigned_agent_id === state.me.id;
  const known = state.conversations.has(conversation.id);
  const name = conversation.customer?.name || ANONYMOUS;
  if (mine) {
    state.conversations.set(conversation.id, conversation);
    if (!known && conversation.status === "open" && !quiet) {
      announce(`New conversation from ${name}.`);
      notifier.tell("New conversation", `${name}: ${conversation.last_message_preview ?? ""}`, { always: true });
    }
  } else if (known) {
    state.conversations.delete(conversation.id);
    if (!quiet) announce(`The conversation with ${name} was reassigned.`);
  }
  if (state.profile) {
    state.profile.conversations = state.profile.conversations.map((c) => (c.id === conversation.id ? conversation : c));
  }
  if (state.open?.id === conversation.id) {
    const before = state.open.conversation;
    state.open.conversation = conversation;
    if ((before?.customer?.name ?? null) !== (conversation.customer?.name ?? null)) {
      timeline.reset(timeline.messages, { id: conversation.id, state: conversation.status, customerName: conversation.customer?.name, seenSeq: conversation.customer_read_seq });
    } else {
      timeline.setState(conversation.status);
    }
    if (before?.status === "open" && conversation.status === "closed" && !quiet) announce("The conversation is closed.");
    renderConversation();
  }
  renderList();
}

async function refreshAll() {
  const token = ++state.listToken;
  try {
    const [list, agents] = await Promise.all([api.get("/conversations"), api.get("/agents").catch(() => null)]);
    if (token !== state.listToken) return;
    state.conversations = new Map(list.conversations.map((c) => [c.id, c]));
    if (agents) state.agents = agents.agents;
    renderList();
    if (state.open) refreshOpen();
  } catch (error) {
    handle(error);
  }
}

// ---------------------------------------------------------------- list

function byOpenThenNewest(a, b) {
  if (a.status !== b.status) return a.status === "open" ? -1 : 1;
  return b.last_activity_at - a.last_activity_at || (a.id < b.id ? -1 : 1);
}

function renderList() {
  const focusedId = document.activeElement?.closest?.('[data-agent="conversation"]')?.dataset.id;
  const items = [...state.conversations.values()].sort(byOpenThenNewest);
  replaceChildren(
    ui.conversationList,
    items.length
      ? items.map(listItem)
      : h("li", { class: "conversation-list__empty muted" }, "No conversations yet. New ones appear here."),
  );
  const open = items.filter((c) => c.status === "open").length;
  setText(ui.listCount, items.length ? `${open} open` : "");
  markCurrent();
  if (focusedId) ui.conversationList.querySelector(`[data-id="${CSS.escape(focusedId)}"]`)?.focus();
  const unread = items.reduce((sum, c) => sum + Math.max(0, c.unread || 0), 0);
  document.title = unread ? `(${unread}) ${TITLE}` : TITLE;
}

function listItem(c) {
  const customer = c.customer ?? {};
  const contact = [customer.email, customer.phone].filter(Boolean).join(" · ");
  return h(
    "li",
    {},
    h(
      "button",
      {
        type: "button",
        class: "conversation",
        "data-agent": "conversation",
        "data-id": c.id,
        "data-status": c.status,
        "aria-current": state.open?.id === c.id ? "true" : null,
      },
      h(
        "span",
        { class: "conversation__top" },
        h("span", { class: "conversation__name", dir: "auto" }, customer.name || ANONYMOUS),
        timeEl(c.last_activity_at, { withDay: true }),
      ),
      contact ? h("span", { class: "conversation__contact", dir: "auto" }, contact) : null,
      h("span", { class: "conversation__preview", dir: "auto" }, c.last_message_preview || "No messages yet"),
      h(
        "span",
        { class: "conversation__bottom" },
        statusPill(c.status),
        verificationPill(customer.verified),
        c.priority && c.priority !== "normal" ? priorityPill(c.priority, {}, { short: true }) : null,
        c.unread > 0 ? h("span", { class: "unread", "data-agent": "unread" }, String(c.unread), srOnly(" unread")) : null,
      ),
    ),
  );
}

/** `aria-current` on the open conversation in the queue and the search results. */
function markCurrent() {
  const id = state.open?.id ?? null;
  for (const el of document.querySelectorAll('[data-agent="queue-open"], [data-agent="search-result"]')) {
    if (el.dataset.id === id) el.setAttribute("aria-current", "true");
    else el.removeAttribute("aria-current");
  }
}

/** Up/Down/Home/End move between conversations, as in a list box. */
function onListKey(event) {
  const buttons = [...ui.conversationList.querySelectorAll('[data-agent="conversation"]')];
  const index = buttons.indexOf(document.activeElement);
  if (index < 0) return;
  const next = { ArrowDown: index + 1, ArrowUp: index - 1, Home: 0, End: buttons.length - 1 }[event.key];
  if (next === undefined || !buttons[next]) return;
  event.preventDefault();
  buttons[next].focus();
}

// ---------------------------------------------------------------- conversation

function isReadOnly(conversation) {
  return !conversation || conversation.status !== "open" || conversation.assigned_agent_id !== state.me?.id;
}

async function openConversation(id) {
  typing.hide();
  if (state.open?.id === id && state.open.conversation && timeline.messages.length) {
    return refreshOpen(); // already shown: bring it up to date without redrawing
  }
  const token = ++state.openToken;
  if (state.open?.id !== id) {
    state.open = { id, conversation: state.conversations.get(id) ?? queue.get(id) ?? null, loginUrl: null };
    state.profile = null;
    replyMenu.close();
    ui.reply.value = "";
    state.pendingReply = null;
    timeline.reset([], { id, state: "open", customerName: "" });
    ui.timeline.setAttribute("aria-busy", "true");
    renderConversation();
    renderList();
  }
  try {
    const detail = await api.get(`/conversations/${api.seg(id)}`);
    if (token !== state.openToken) return;
    showDetail(detail);
    if (idFromHash() !== id) history.replaceState(null, "", `#conversation=${encodeURIComponent(id)}`);
    loadProfile(detail.conversation.customer.id, token);
  } catch (error) {
    if (token !== state.openToken) return;
    ui.timeline.setAttribute("aria-busy", "false");
    if (error.status === 404) {
      state.open = null;
      renderConversation();
      renderList();
    }
    handle(error);
  }
}

function showDetail(detail) {
  const c = detail.conversation;
  state.open = { id: c.id, conversation: c, loginUrl: detail.login_url ?? null };
  if (state.conversations.has(c.id)) state.conversations.set(c.id, c);
  timeline.reset(detail.messages, { id: c.id, state: c.status, customerName: c.customer?.name, seenSeq: c.customer_read_seq });
  renderConversation();
  renderList();
  markRead();
}

/** Refetches the open conversation; new messages are appended, so only they are announced. */
async function refreshOpen() {
  const open = state.open;
  if (!open) return;
  const token = state.openToken;
  try {
    const detail = await api.get(`/conversations/${api.seg(open.id)}`);
    if (token !== state.openToken) return;
    const c = detail.conversation;
    const sameName = (open.conversation?.customer?.name ?? null) === (c.customer?.name ?? null);
    const messages = [...detail.messages].sort((a, b) => a.seq - b.seq);
    const appendable =
      sameName && timeline.messages.length > 0 && messages.slice(0, timeline.messages.length).every((m, i) => m.seq === timeline.messages[i].seq);
    state.open = { id: c.id, conversation: c, loginUrl: detail.login_url ?? null };
    if (state.conversations.has(c.id)) state.conversations.set(c.id, c);
    if (appendable) {
      timeline.setState(c.status);
      for (const m of messages.slice(timeline.messages.length)) timeline.add(m);
    } else {
      timeline.reset(messages, { id: c.id, state: c.status, customerName: c.customer?.name, seenSeq: c.customer_read_seq });
    }
    renderConversation();
    renderList();
    markRead();
    loadProfile(c.customer.id, token);
  } catch (error) {
    handle(error);
  }
}

function renderConversation() {
  const open = state.open;
  const c = open?.conversation;
  ui.timeline.hidden = !open;
  if (!c) {
    setText(ui.conversationTitle, open ? "Loading conversation…" : "No conversation selected");
    replaceChildren(ui.conversationMeta, open ? "" : "Choose a conversation from the list or take one from the queue.");
    ui.conversationDetails.hidden = true;
    ui.readOnly.hidden = true;
    ui.actions.hidden = true;
    renderProfile();
    return;
  }
  setText(ui.conversationTitle, c.customer?.name || ANONYMOUS);
  replaceChildren(
    ui.conversationMeta,
    statusPill(c.status, { "data-agent": "conversation-status" }),
    " ",
    verificationPill(Boolean(c.customer?.verified), { "data-agent": "conversation-verification" }),
    " ",
    h("span", {}, `App ${c.app_id} · started ${dayTimeText(c.created_at)}`),
  );

  renderDetails(c);

  const readOnly = isReadOnly(c);
  ui.readOnly.hidden = !readOnly;
  if (readOnly) renderReadOnly(c);
  const hadFocus = ui.actions.contains(document.activeElement);
  ui.actions.hidden = readOnly;
  if (readOnly && hadFocus) ui.timeline.focus();
  if (!readOnly) renderActions(open);
  renderProfile();
}

/**
 * "Customer is typing…" under the timeline: shown on a typing frame of the
 * open conversation, gone after 5 s or with the customer's next message.
 */
const typing = {
  timer: null,
  el: null,
  show() {
    if (!this.el) {
      this.el = h("p", { class: "typing", "data-agent": "typing", role: "status" });
      ui.timeline.after(this.el);
    }
    this.el.textContent = "Customer is typing…";
    this.el.hidden = false;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.hide(), 5000);
  },
  hide() {
    clearTimeout(this.timer);
    if (this.el) {
      this.el.hidden = true;
      this.el.textContent = "";
    }
  },
};

/** Tells the customer the agent is typing: at most once each 2 s, only in an open conversation of theirs. */
let lastTypingSent = 0;
function sendTyping() {
  const c = state.open?.conversation;
  if (!c || c.status !== "open" || c.assigned_agent_id !== state.me?.id) return;
  if (ui.reply.value.startsWith("/")) return; // choosing a saved reply
  const now = Date.now();
  if (now - lastTypingSent < 2000) return;
  lastTypingSent = now;
  state.live?.send({ type: "typing", conversation_id: c.id });
}

/** The page the customer is on: a link when it is http(s), text otherwise. */
function currentPage(c) {
  if (!c.current_page) return null;
  const url = safeHttpUrl(c.current_page);
  const target = url
    ? h("a", { href: url, target: "_blank", rel: "noopener noreferrer", dir: "ltr" }, c.current_page)
    : h("span", { dir: "ltr" }, c.current_page);
  return h("p", { class: "conversation__page", "data-agent": "current-page" }, "Customer's page: ", target);
}

/** Team, priority, the routing rule, a hold for login, and the customer's rating. */
function renderDetails(c) {
  const team = c.team_id ? teamName(c.team_id) : null;
  const facts = [
    team ? h("span", { class: "tag", "data-agent": "conversation-team" }, `Team ${team}`) : null,
    priorityPill(c.priority, { "data-agent": "conversation-priority" }),
    c.rule
      ? h("span", { class: "tag tag--rule", "data-agent": "routed-by" }, "Routed by rule: ", h("span", { dir: "auto" }, c.rule))
      : null,
    isHeld(c)
      ? h("span", { class: "tag tag--held", "data-agent": "conversation-held" }, `Waiting for the customer to log in until ${holdTime(c.held_until)}`)
      : null,
  ];
  replaceChildren(ui.conversationDetails, h("p", { class: "conversation__facts" }, facts), currentPage(c), ratingBlock(c.rating));
  ui.conversationDetails.hidden = false;
}

/** Why the conversation is read-only; one still waiting can be taken from here. */
function renderReadOnly(c) {
  const waiting = c.status === "open" && !c.assigned_agent_id;
  const text =
    c.status !== "open"
      ? "Read-only: this conversation is closed."
      : c.assigned_agent_id
        ? "Read-only: this conversation is assigned to another agent."
        : "Read-only: this conversation is waiting for an agent.";
  let label = ui.readOnly.querySelector(".read-only__text");
  if (!label) {
    label = h("span", { class: "read-only__text" });
    ui.readOnly.replaceChildren(label);
  }
  setText(label, text);
  let button = ui.readOnly.querySelector('[data-agent="read-only-take"]');
  if (waiting && !button) {
    button = h("button", { type: "button", class: "button button--small button--primary", "data-agent": "read-only-take" }, "Take it");
    ui.readOnly.append(" ", button);
  } else if (!waiting && button) {
    const hadFocus = document.activeElement === button;
    button.previousSibling?.remove();
    button.remove();
    if (hadFocus) ui.timeline.focus();
  }
}

/** Assigns a waiting conversation to the logged-in agent and opens it for replying. */
async function take(c) {
  if (!state.me) return;
  const name = c.customer?.name || ANONYMOUS;
  try {
    // The queue may be seconds old: never take one another agent has now.
    const now = (await api.get(`/conversations/${api.seg(c.id)}`)).conversation;
    const mine = now.assigned_agent_id === state.me.id;
    if (!mine && (now.assigned_agent_id || now.status !== "open")) {
      queue.remove(c.id);
      if (state.open?.id === c.id) refreshOpen();
      showError(now.status !== "open" ? "This conversation is closed already." : "Another agent has taken this conversation already.");
      return;
    }
    const taken = mine ? now : await api.post(`/conversations/${api.seg(c.id)}/assign`, { agent_id: state.me.id });
    queue.remove(c.id);
    upsert(taken, { quiet: true });
    clearError();
    announce(`You took the conversation with ${name}.`);
    await openConversation(c.id);
    if (state.open?.id === c.id && !ui.actions.hidden) ui.reply.focus();
  } catch (error) {
    handle(error);
    queue.refresh();
  }
}

function renderActions(open) {
  const customer = open.conversation.customer ?? {};
  const canAsk = Boolean(open.loginUrl) && !customer.verified;
  ui.requestLogin.disabled = !canAsk;
  setText(
    ui.requestLoginHint,
    !open.loginUrl
      ? "Asking to log in needs a login URL in this app's configuration."
      : customer.verified
        ? "The customer is logged in and verified; no need to ask."
        : "“Ask to log in” sends the customer this app's login link.",
  );

  const others = state.agents.filter((a) => a.id !== open.conversation.assigned_agent_id);
  const chosen = ui.assignAgent.value;
  replaceChildren(
    ui.assignAgent,
    others.length
      ? others.map((a) =>
          h("option", { value: a.id }, `${a.name} (${a.status === "available" ? "available" : "away"}${a.online ? "" : ", offline"})`),
        )
      : h("option", { value: "" }, "No other agents"),
  );
  if (others.some((a) => a.id === chosen)) ui.assignAgent.value = chosen;
  ui.assignAgent.disabled = !others.length;
  ui.assignSubmit.disabled = !others.length;
}

/** Marks the open conversation read up to its last message. */
async function markRead() {
  const open = state.open;
  if (!open?.conversation || open.conversation.assigned_agent_id !== state.me?.id || document.hidden) return;
  const seq = timeline.lastSeq;
  const summary = state.conversations.get(open.id);
  if (!seq || ((state.readSeq.get(open.id) ?? 0) >= seq && !(summary?.unread > 0))) return;
  state.readSeq.set(open.id, seq);
  try {
    await api.post(`/conversations/${api.seg(open.id)}/read`, { seq });
    const now = state.conversations.get(open.id);
    if (now && now.last_seq <= seq && now.unread) {
      state.conversations.set(open.id, { ...now, unread: 0 });
      renderList();
    }
  } catch (error) {
    state.readSeq.delete(open.id);
    if (error.status === 401) handle(error);
  }
}

// ---------------------------------------------------------------- actions

async function sendReply() {
  const open = state.open;
  const body = ui.reply.value;
  if (!open || isReadOnly(open.conversation) || state.sending) return;
  if (!body.trim()) {
    showError("Write a reply first.");
    ui.reply.focus();
    return;
  }
  const pending = state.pendingReply;
  const clientId = pending && pending.id === open.id && pending.body === body ? pending.clientId : uuid();
  state.pendingReply = { id: open.id, body, clientId };
  state.sending = true;
  ui.send.setAttribute("aria-disabled", "true");
  try {
    const message = await api.post(`/conversations/${api.seg(open.id)}/messages`, { body, client_id: clientId });
    state.pendingReply = null;
    if (ui.reply.value === body && state.open?.id === open.id) {
      ui.reply.value = "";
      replyMenu.close();
    }
    clearError();
    if (state.open?.id === message.conversation_id && !timeline.add(message)) refreshOpen();
  } catch (error) {
    handle(error);
  } finally {
    state.sending = false;
    ui.send.removeAttribute("aria-disabled");
  }
}

function onReplyKey(event) {
  if (replyMenu.onKeyDown(event)) return;
  if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.altKey) return;
  event.preventDefault();
  sendReply();
}

async function requestLogin() {
  const open = state.open;
  if (!open || ui.requestLogin.disabled) return;
  try {
    const message = await api.post(`/conversations/${api.seg(open.id)}/request-login`, {});
    clearError();
    if (state.open?.id === message.conversation_id && !timeline.add(message)) refreshOpen();
    announce("Asked the customer to log in.");
  } catch (error) {
    handle(error);
  }
}

async function closeConversation() {
  const open = state.open;
  if (!open) return;
  try {
    upsert(await api.post(`/conversations/${api.seg(open.id)}/close`, {}));
    clearError();
  } catch (error) {
    handle(error);
  }
}

async function assign(event) {
  event.preventDefault();
  const open = state.open;
  const agentId = ui.assignAgent.value;
  if (!open || !agentId) return;
  const agent = state.agents.find((a) => a.id === agentId);
  try {
    upsert(await api.post(`/conversations/${api.seg(open.id)}/assign`, { agent_id: agentId }), { quiet: true });
    clearError();
    announce(`Reassigned to ${agent?.name ?? "another agent"}.`);
  } catch (error) {
    handle(error);
  }
}

// ---------------------------------------------------------------- profile

async function loadProfile(customerId, token) {
  try {
    const profile = await api.get(`/customers/${api.seg(customerId)}`);
    if (token !== state.openToken) return;
    state.profile = profile;
    renderProfile();
  } catch (error) {
    if (token === state.openToken) handle(error);
  }
}

function renderProfile() {
  const open = state.open;
  const customer = open?.conversation?.customer ?? null;
  if (!customer) {
    replaceChildren(ui.profileBody, h("p", { class: "muted" }, open ? "Loading…" : "Select a conversation to see the customer."));
    return;
  }
  // What the customer gave in this conversation is a claim unless the
  // conversation is verified: anybody can type an email.
  const verified = Boolean(customer.verified);
  const field = (label, value, hook, claimed = false) =>
    append(h("div", { class: "profile__field" }), [
      h("dt", {}, label),
      value
        ? h(
            "dd",
            { "data-agent": hook, "data-claimed": claimed ? "true" : "false" },
            h("span", { dir: "auto" }, value),
            claimed ? h("span", { class: "claimed", "data-agent": "claimed" }, " (claimed, not verified)") : null,
          )
        : h("dd", { class: "muted", "data-agent": hook }, "Not given"),
    ]);
  const stored = state.profile?.customer;
  const past = (state.profile?.conversations ?? []).filter((c) => c.id !== open.id);
  replaceChildren(
    ui.profileBody,
    h(
      "dl",
      { class: "profile" },
      field("Name", customer.name || null, "profile-name"),
      field("Email", customer.email || null, "profile-email", !verified),
      field("Phone", customer.phone || null, "profile-phone", !verified),
      append(h("div", { class: "profile__field" }), [
        h("dt", {}, "Identity"),
        h(
          "dd",
          { "data-agent": "verified", "data-verified": verified ? "true" : "false", class: verified ? "verified" : "unverified" },
          verified ? "Verified now" : "Not verified",
        ),
      ]),
    ),
    stored && !verified
      ? h(
          "p",
          { class: "muted profile__note", "data-agent": "profile-on-file" },
          "Profile on file: ",
          h("span", { dir: "auto" }, [stored.name, stored.email, stored.phone].filter(Boolean).join(" · ") || "no details"),
          ". Ask the customer to log in before sharing anything of this profile.",
        )
      : null,
    h("h3", { class: "pane__subheading" }, "Past conversations"),
    !state.profile
      ? h("p", { class: "muted" }, "Loading…")
      : past.length
        ? h("ul", { class: "past-list", "data-agent": "past-conversations" }, past.map(pastItem))
        : h("p", { class: "muted" }, "No other conversations."),
  );
}

function pastItem(c) {
  return h(
    "li",
    {},
    h(
      "button",
      { type: "button", class: "past", "data-agent": "past-conversation", "data-id": c.id, "data-status": c.status },
      h("span", { class: "past__top" }, h("span", {}, dayTimeText(c.created_at)), statusPill(c.status), verificationPill(Boolean(c.customer?.verified))),
      h("span", { class: "past__preview", dir: "auto" }, c.last_message_preview || "No messages"),
    ),
  );
}

// ---------------------------------------------------------------- header, errors

function renderHeader() {
  if (!state.me) return;
  setText(ui.agentName, state.me.name);
  const available = state.me.status === "available";
  ui.status.setAttribute("data-state", available ? "available" : "away");
  setText(ui.statusLabel, available ? "Available" : "Away");
}

function renderConnection(connection) {
  ui.connection.setAttribute("data-state", connection);
  setText(ui.connection, { live: "Live", connecting: "Connecting…", offline: "Reconnecting…" }[connection] ?? "");
}

/** Shows an error (an ApiError or a string) in the alert region. */
function showError(error) {
  const text = typeof error === "string" ? error : sentence(error.message);
  replaceChildren(
    ui.error,
    h("span", {}, text),
    h("button", { type: "button", class: "alert__dismiss", "data-agent": "dismiss-error" }, "Dismiss"),
  );
}

function clearError() {
  ui.error.replaceChildren();
}

/** A failed request: a dead session goes back to the login form, anything else is shown. */
function handle(error) {
  if (error.status === 401) showLogin("Your session has ended. Log in again.");
  else showError(error);
}

function announce(text) {
  // Clearing first makes a repeated text announced again.
  ui.announce.textContent = "";
  setTimeout(() => (ui.announce.textContent = text), 50);
}

// ---------------------------------------------------------------- wiring

function wire() {
  ui.loginForm.addEventListener("submit", onLogin);
  ui.logout.addEventListener("click", onLogout);
  ui.status.addEventListener("click", onToggleStatus);
  ui.conversationList.addEventListener("click", (event) => {
    const button = event.target.closest('[data-agent="conversation"]');
    if (button) openConversation(button.dataset.id);
  });
  ui.conversationList.addEventListener("keydown", onListKey);
  ui.profileBody.addEventListener("click", (event) => {
    const button = event.target.closest('[data-agent="past-conversation"]');
    if (button) openConversation(button.dataset.id);
  });
  ui.composer.addEventListener("submit", (event) => {
    event.preventDefault();
    sendReply();
  });
  ui.reply.addEventListener("keydown", onReplyKey);
  ui.reply.addEventListener("input", sendTyping);
  ui.requestLogin.addEventListener("click", requestLogin);
  ui.close.addEventListener("click", closeConversation);
  ui.assign.addEventListener("submit", assign);
  ui.readOnly.addEventListener("click", (event) => {
    const c = state.open?.conversation;
    if (event.target.closest('[data-agent="read-only-take"]') && c) take(c);
  });
  ui.error.addEventListener("click", (event) => {
    if (event.target.closest('[data-agent="dismiss-error"]')) clearError();
  });
  document.addEventListener("visibilitychange", () => markRead());
  window.addEventListener("hashchange", () => {
    const id = idFromHash();
    if (id && state.me && id !== state.open?.id) openConversation(id);
  });
}

function idFromHash() {
  const match = /^#conversation=(.+)$/.exec(location.hash);
  if (!match) return null;
  try {
    return decodeURIComponent(match[1]);
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------- helpers

function setText(el, text) {
  el.textContent = text;
}

/** Server messages are lowercase without a final dot; show them as a sentence. */
function sentence(text) {
  const s = String(text || "something went wrong").trim();
  const capital = s.charAt(0).toUpperCase() + s.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

function camel(hook) {
  return hook.replace(/-(\w)/g, (_, c) => c.toUpperCase());
}

function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
