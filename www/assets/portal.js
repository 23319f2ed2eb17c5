// The demo portal's own JavaScript: a stand-in for a customer's website.
// Its "login" checks the demo users in users.json and keeps the logged-in
// user in the portal's own localStorage key. It then tells TrustChat who the
// customer is, exactly as a real site would after its own login.

const PORTAL_USER = "acme-portal:user";

export function currentUser() {
  try {
    return JSON.parse(localStorage.getItem(PORTAL_USER));
  } catch {
    return null;
  }
}

export async function logIn(email, password) {
  const users = await (await fetch("/assets/users.json")).json();
  const user = users.find((u) => u.email === email.trim().toLowerCase() && u.password === password);
  if (!user) return null;
  const session = { name: user.name, email: user.email };
  localStorage.setItem(PORTAL_USER, JSON.stringify(session));
  return session;
}

export async function logOut() {
  // Logout: forget the customer in the chat first, then the portal's own session.
  await window.TrustChat.clearUser();
  localStorage.removeItem(PORTAL_USER);
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
