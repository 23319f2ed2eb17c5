// Building DOM from data, safely. Every string handed to `h` becomes a text
// node or an attribute value: nothing here parses HTML, so customer text
// (names, emails, bodies, links) can never become markup or script.

const SVG_NS = "http://www.w3.org/2000/svg";

/**
 * Creates an element. `attrs` values: `null`/`undefined`/`false` skip the
 * attribute, `true` sets it empty, anything else is set as a string.
 * Children: strings and numbers become text nodes; `null` and `false` are
 * skipped; arrays are flattened.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "href") {
      const url = safeHttpUrl(value);
      if (url) el.setAttribute("href", url);
      continue;
    }
    el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

/** Appends children as `h` does. */
export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

/** Replaces all children of `parent`. */
export function replaceChildren(parent, ...children) {
  parent.replaceChildren();
  return append(parent, children);
}

/** The URL as a string when it is absolute http(s), else `null`. */
export function safeHttpUrl(value) {
  try {
    const url = new URL(String(value));
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

const timeFormat = new Intl.DateTimeFormat(undefined, { timeStyle: "short" });
const dayFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "medium" });

/**
 * A `<time>` for Unix milliseconds: the short time (with the date in front
 * when it is not today and `withDay` is set), the full date in `title`.
 */
export function timeEl(ms, { withDay = false } = {}) {
  const date = new Date(Number(ms));
  if (Number.isNaN(date.getTime())) return h("time", {}, "");
  const today = new Date().toDateString() === date.toDateString();
  const text = withDay && !today ? dayFormat.format(date) : timeFormat.format(date);
  return h("time", { datetime: date.toISOString(), title: fullFormat.format(date) }, text);
}

/** A date for lists of conversations: "12 Mar 2025, 14:03" style. */
export function dayTimeText(ms) {
  const date = new Date(Number(ms));
  return Number.isNaN(date.getTime()) ? "" : `${dayFormat.format(date)}, ${timeFormat.format(date)}`;
}

/** Text only screen readers get. */
export function srOnly(text) {
  return h("span", { class: "visually-hidden" }, text);
}

/**
 * The trusted icon: a shield with a check mark, green while the
 * conversation is open and gray once it is closed (`data-state`; the colour
 * itself is in console.css). Built with `createElementNS`, never from markup.
 */
export function trustedIcon(state) {
  const icon = h("span", {
    class: "trusted-icon",
    "data-agent": "trusted-icon",
    "data-state": state,
    role: "img",
    "aria-label": "Trusted message",
    title: "Trusted message: sent from a verified session",
  });
  const svg = svgEl("svg", {
    viewBox: "0 0 16 16",
    width: "16",
    height: "16",
    "aria-hidden": "true",
    focusable: "false",
  });
  svg.append(
    svgEl("path", {
      d: "M8 .8 14.2 3.2v4.5c0 3.7-2.6 6.6-6.2 7.6C4.4 14.3 1.8 11.4 1.8 7.7V3.2Z",
      fill: "currentColor",
    }),
    svgEl("path", {
      d: "m4.9 8.1 2.2 2.2 4-4.4",
      fill: "none",
      stroke: "#fff",
      "stroke-width": "1.8",
      "stroke-linecap": "round",
      "stroke-linejoin": "round",
    }),
  );
  icon.append(svg);
  return icon;
}

function svgEl(tag, attrs) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, value);
  return el;
}
