// Type declarations for the TrustChat widget, for the ES module
// (`import { init } from "trustchat"`) and the global `window.TrustChat`.

/** Options of {@link init}. */
export interface TrustChatConfig {
  /** The app id from the server's config, e.g. `"demo"`. */
  appId: string;
  /** Base URL of the TrustChat server. Default: where the widget script was loaded from. */
  server?: string;
  /** Ask anonymous customers for name and email first. Default: the app's setting on the server. */
  onboarding?: boolean;
  /** UI language; `"en"` for now. */
  locale?: string;
  /** Called when the identity token expires; resolve with a fresh JWT. */
  fetchJwt?: () => Promise<string>;
}

/** A customer as the website describes them to {@link setUser}. */
export type UserInput =
  | { name: string; email: string; phone?: string }
  | { name: string; phone: string; email?: string }
  | { jwt: string };

/** The customer the widget is chatting with, as {@link getUser} returns it. */
export interface User {
  /** Stable id of the customer profile on the server. */
  id: string;
  name: string | null;
  firstName: string | null;
  email: string | null;
  /** E.164, e.g. `"+14155550100"`. */
  phone: string | null;
  /** True when the server verified the identity with a JWT that has not expired. */
  trusted: boolean;
}

/** Codes of the `Error`s the widget's promises reject with. */
export type TrustChatErrorCode =
  | "invalid_argument"
  | "not_initialized"
  | "network"
  | "origin_not_allowed"
  | "unknown_app"
  | "invalid_token"
  | "token_expired"
  | "rate_limited"
  | "server_error";

export interface TrustChatError extends Error {
  code: TrustChatErrorCode;
}

/** Events and the detail their handlers receive. */
export interface TrustChatEvents {
  /** The customer restored from a previous page, or null. */
  ready: User | null;
  "user:identified": User;
  "user:trusted": User;
  "user:cleared": undefined;
  open: undefined;
  close: undefined;
  error: TrustChatError;
  "token:expired": undefined;
}
export type TrustChatEvent = keyof TrustChatEvents;

/**
 * Draws the launcher at once; the rest of the widget loads when the customer
 * opens the chat, when a call needs it, or when the browser is idle. The
 * promise settles once the widget has loaded and the app is known.
 */
export function init(config: TrustChatConfig): Promise<void>;
export function setUser(user: UserInput): Promise<User>;
export function setJwt(token: string): Promise<User>;
export function clearUser(): Promise<void>;
export function show(): void;
export function close(): void;
export function getUser(): User | null;
export function on<E extends TrustChatEvent>(event: E, handler: (detail: TrustChatEvents[E]) => void): void;
export function off<E extends TrustChatEvent>(event: E, handler: (detail: TrustChatEvents[E]) => void): void;

declare global {
  interface Window {
    TrustChat: {
      init: typeof init;
      setUser: typeof setUser;
      setJwt: typeof setJwt;
      clearUser: typeof clearUser;
      show: typeof show;
      close: typeof close;
      getUser: typeof getUser;
      on: typeof on;
      off: typeof off;
    };
  }
}
