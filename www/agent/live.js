// The agent WebSocket: cookie-authenticated, same origin. Pings every
// 25 s, treats a long silence as a dead connection, and reconnects with
// capped exponential backoff and full jitter. Each `ready` frame (the first
// and every one after a reconnect) is the caller's cue to refetch, so a
// message sent while the socket was down is never missed.

const PING_MS = 25_000;
const SILENCE_MS = 60_000;
const BACKOFF_BASE_MS = 1_000;
const BACKOFF_MAX_MS = 30_000;

/**
 * Connects and keeps connected until `stop()`.
 * - `onFrame(frame)`: every server frame, parsed.
 * - `onState("connecting" | "live" | "offline")`: for the header.
 * - `stillLoggedIn()`: resolves false when the session is gone (checked
 *   before each reconnect); the socket then stops for good.
 * - `onLoggedOut()`: called when that happens.
 */
export function connectLive({ onFrame, onState, stillLoggedIn, onLoggedOut }) {
  let socket = null;
  let stopped = false;
  let attempt = 0;
  let retryTimer = null;
  let pingTimer = null;
  let lastHeard = 0;

  const url = `${location.origin.replace(/^http/, "ws")}/api/v1/agent/ws`;

  function open() {
    if (stopped) return;
    onState("connecting");
    try {
      socket = new WebSocket(url);
    } catch {
      scheduleReconnect();
      return;
    }
    const ws = socket;
    ws.addEventListener("open", () => {
      lastHeard = Date.now();
      pingTimer = setInterval(() => {
        if (Date.now() - lastHeard > SILENCE_MS) {
          ws.close(4000, "silent");
          return;
        }
        if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "ping" }));
      }, PING_MS);
    });
    ws.addEventListener("message", (event) => {
      lastHeard = Date.now();
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      if (!frame || typeof frame.type !== "string") return;
      if (frame.type === "ready") {
        attempt = 0;
        onState("live");
      }
      onFrame(frame);
    });
    ws.addEventListener("close", () => {
      clearInterval(pingTimer);
      if (socket === ws) socket = null;
      if (!stopped) scheduleReconnect();
    });
  }

  function scheduleReconnect() {
    onState("offline");
    clearTimeout(retryTimer);
    const cap = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** attempt);
    attempt += 1;
    const delay = 250 + Math.random() * cap;
    retryTimer = setTimeout(reconnect, delay);
  }

  async function reconnect() {
    if (stopped) return;
    let loggedIn;
    try {
      loggedIn = await stillLoggedIn();
    } catch {
      scheduleReconnect(); // the server is unreachable: keep trying
      return;
    }
    if (stopped) return;
    if (!loggedIn) {
      stop();
      onLoggedOut();
      return;
    }
    open();
  }

  function onOnline() {
    if (!socket && !stopped) {
      clearTimeout(retryTimer);
      reconnect();
    }
  }
  window.addEventListener("online", onOnline);

  function stop() {
    stopped = true;
    clearTimeout(retryTimer);
    clearInterval(pingTimer);
    window.removeEventListener("online", onOnline);
    if (socket) socket.close(1000, "bye");
    socket = null;
  }

  /** Sends a frame when connected; dropped otherwise (typing is best effort). */
  function send(frame) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame));
  }

  open();
  return { stop, send };
}
