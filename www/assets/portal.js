// The demo portal's own JavaScript: a stand-in for a customer's website.
// Its login asks the portal's backend (the server's /demo routes, on only in
// the demo config) to check the demo user, and keeps the portal session in
// the portal's own localStorage key. Pages then prove to TrustChat who the
// customer is with an identity token from that backend (see acmeFetchJwt in
// each page), exactly as a real site would after its own login.

const PORTAL_USER = "acme-portal:user";

export function currentUser() {
  try {
    return JSON.parse(localStorage.getItem(PORTAL_USER));
  } catch {
    return null;
  }
}

export async function logIn(email, password) {
  const response = await fetch("/demo/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password }),
  });
  if (!response.ok) return null;
  const user = await response.json();
  localStorage.setItem(PORTAL_USER, JSON.stringify(user));
  return user;
}

export function forgetPortalUser() {
  localStorage.removeItem(PORTAL_USER);
}

export async function logOut() {
  // Logout: forget the customer in the chat first, then the portal's own session.
  await window.TrustChat.clearUser();
  const user = currentUser();
  if (user) {
    await fetch("/demo/logout", { method: "POST", headers: { authorization: `Bearer ${user.portal_token}` } });
  }
  forgetPortalUser();
}

export function renderNav() {
  const user = currentUser();
  const nav = document.querySelector("[data-portal=nav]");
  nav.replaceChildren();
  if (user) {
    const account = Object.assign(document.createElement("a"), { href: "/account/", textContent: "My account" });
    const out = Object.assign(document.createElement("button"), { type: "button", textContent: "Log out" });
    out.dataset.portal = "logout";
    out.addEventListener("click", async () => {
      await logOut();
      location.assign("/");
    });
    nav.append(account, out);
  } else {
    nav.append(Object.assign(document.createElement("a"), { href: "/login/", textContent: "Log in" }));
  }
}
