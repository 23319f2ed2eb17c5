// The launcher button, drawn by the script the page loads, before (and
// without) the wasm: the same host `<div id="trustchat-root">`, open shadow
// root, styles and button the Rust UI draws (src/ui/launcher.css and
// launcher.svg are shared), which the Rust UI adopts when it arrives. It is
// `position: fixed`, so drawing it shifts nothing on the page.

import css from "../../src/ui/launcher.css";
import icon from "../../src/ui/launcher.svg";

// The shadow root's content, as the Rust UI draws it (src/ui/mod.rs,
// `draw_launcher`): markup of our own, never data. One `innerHTML` is the
// cheapest way to build it: the browser creates the elements without a
// JavaScript object for each (measured: BENCHMARKS.md, host page).
const MARKUP =
  `<div id="tc-root"><style>${css}</style>` +
  `<button type="button" class="launcher" data-tc="launcher" aria-label="Open chat" aria-expanded="false">${icon}</button></div>`;

/** The shadow root of the widget's host, if it is on the page. */
function shadow() {
  return document.getElementById("trustchat-root")?.shadowRoot ?? null;
}

/** Whether the Rust UI has taken over (it adds the panel). */
function adopted(root) {
  return !!root?.getElementById("trustchat-panel");
}

/**
 * Draws the launcher unless it is there; `open` is called on a press until
 * the Rust UI has adopted the button and listens to it itself.
 */
export function drawLauncher(open) {
  if (shadow()) return;
  const body = document.body;
  if (!body) {
    document.addEventListener("DOMContentLoaded", () => drawLauncher(open), { once: true });
    return;
  }
  const host = document.createElement("div");
  host.id = "trustchat-root";
  const root = host.attachShadow({ mode: "open" });
  root.innerHTML = MARKUP;
  // On the root, not the button: no JavaScript object for the button
  // either. The button is all there is until the Rust UI adopts it.
  root.addEventListener("click", () => adopted(root) || open());
  body.append(host);
}

/** Removes the launcher, unless the Rust UI adopted it (init failed). */
export function removeLauncher() {
  const root = shadow();
  if (root && !adopted(root)) root.host.remove();
}
