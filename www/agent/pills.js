// Small labelled badges the lists and the conversation header share:
// status, verification, priority, and the customer's rating. Text only.

import { h, srOnly } from "./dom.js";

/**
 * Whether the customer chatting in a conversation is verified now: per
 * conversation, never per profile (an email alone proves nothing).
 */
export function verificationPill(verified, attrs = {}) {
  return h(
    "span",
    {
      class: `pill pill--${verified ? "verified" : "unverified"}`,
      "data-agent": "verification",
      "data-verified": verified ? "true" : "false",
      ...attrs,
    },
    verified ? "Verified" : "Not verified",
  );
}

export function statusPill(status, attrs = {}) {
  return h("span", { class: `pill pill--${status}`, "data-status": status, ...attrs }, status === "open" ? "Open" : "Closed");
}

const PRIORITY_TEXT = { high: "High", normal: "Normal", low: "Low" };

/**
 * A conversation's place in the queue: high, normal or low ("High
 * priority"; with `short`, "High" on screen and the whole for screen
 * readers).
 */
export function priorityPill(priority, attrs = {}, { short = false } = {}) {
  const p = PRIORITY_TEXT[priority] ? priority : "normal";
  return h(
    "span",
    { class: `pill pill--priority-${p}`, "data-agent": "priority", "data-priority": p, ...attrs },
    PRIORITY_TEXT[p],
    short ? srOnly(" priority") : " priority",
  );
}

/**
 * The customer's satisfaction rating: "Rated 4/5" with five stars drawn
 * as text (hidden from screen readers, which read the words), and the
 * comment as text.
 */
export function ratingBlock(rating) {
  if (!rating) return null;
  const value = Math.max(1, Math.min(5, Math.round(Number(rating.rating) || 0)));
  return h(
    "div",
    { class: "rating", "data-agent": "rating", "data-rating": value },
    h(
      "p",
      { class: "rating__score" },
      h("span", { class: "rating__stars", "aria-hidden": "true" }, "★".repeat(value), h("span", { class: "rating__empty" }, "☆".repeat(5 - value))),
      " ",
      h("span", { class: "rating__text" }, `Rated ${value}/5`),
      srOnly(" by the customer"),
    ),
    rating.comment
      ? h("blockquote", { class: "rating__comment", dir: "auto", "data-agent": "rating-comment" }, rating.comment)
      : null,
  );
}
