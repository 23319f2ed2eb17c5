// The demo portal's chat set-up, loaded right after the TrustChat loader
// snippet on every page. A real site does the same with its own app id and
// its own token endpoint.

// A fresh identity token for the logged-in customer, from the portal's
// backend (README: "Identity tokens"). TrustChat calls it before a token
// expires; the account page calls it after login.
function acmeFetchJwt() {
  var user = JSON.parse(localStorage.getItem("acme-portal:user") || "null");
  if (!user) return Promise.reject(new Error("not logged in to the portal"));
  return fetch("/demo/token", { method: "POST", headers: { authorization: "Bearer " + user.portal_token } })
    .then(function (response) {
      if (!response.ok) throw new Error("the portal session has ended");
      return response.json();
    })
    .then(function (body) { return body.token; });
}

TrustChat.init({ appId: "demo", fetchJwt: acmeFetchJwt });
