// The agent API under /api/v1/agent: JSON over fetch with the session
// cookie, the CSRF token on every POST, and one error type.

const BASE = "/api/v1/agent";

/** A failed request: `code` is the server's stable code (or `network`). */
export class ApiError extends Error {
  constructor(status, code, message, detail = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = detail.retry_after ?? null;
  }
}

/** The logged-in session's CSRF token; set from `/me` and `/login`. */
let csrfToken = null;

export function setCsrfToken(token) {
  csrfToken = token ?? null;
}

/** `GET /api/v1/agent{path}`. */
export function get(path) {
  return request("GET", path);
}

/** `POST /api/v1/agent{path}` with a JSON body and the CSRF token. */
export function post(path, body = {}) {
  return request("POST", path, body);
}

/** `DELETE /api/v1/agent{path}` with the CSRF token. */
export function del(path) {
  return request("DELETE", path);
}

/** `GET` of a same-origin URL outside `/api/v1/agent` (the reports). */
export function getUrl(url) {
  return requestUrl("GET", url);
}

/** An id segment for a path. */
export function seg(id) {
  return encodeURIComponent(String(id));
}

function request(method, path, body) {
  return requestUrl(method, BASE + path, body);
}

async function requestUrl(method, url, body) {
  const headers = { accept: "application/json" };
  const init = { method, headers, credentials: "same-origin", cache: "no-store" };
  if (method !== "GET") {
    if (csrfToken) headers["x-csrf-token"] = csrfToken;
    if (body !== undefined) {
      headers["content-type"] = "application/json";
      init.body = JSON.stringify(body);
    }
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch {
    throw new ApiError(0, "network", "cannot reach the server; check the connection and try again");
  }
  if (response.status === 204) return null;
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const detail = data && typeof data.error === "object" && data.error ? data.error : {};
    const code = typeof detail.code === "string" ? detail.code : `http_${response.status}`;
    const message =
      typeof detail.message === "string" && detail.message
        ? detail.message
        : `the request failed (HTTP ${response.status})`;
    throw new ApiError(response.status, code, message, detail);
  }
  return data;
}
