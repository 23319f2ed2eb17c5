// The TrustChat loader snippet (see README "Embed the widget"). Paste it in
// a <script> tag, with the last argument set to your server's
// /widget/trustchat.js. It defines window.TrustChat at once: calls made
// before the widget arrives are queued and replayed in order, and the
// promises they return settle when the real calls do. getUser() answers
// null until then.
(function (w, d, src) {
  if (w.TrustChat) return;
  var q = [], T = (w.TrustChat = { q: q });
  "init setUser setJwt clearUser show close on off".split(" ").forEach(function (m) {
    T[m] = function () {
      var a = [].slice.call(arguments);
      return new Promise(function (res, rej) { q.push([m, a, res, rej]); });
    };
  });
  T.getUser = function () { return null; };
  var s = d.createElement("script");
  s.async = true;
  s.src = src;
  d.head.appendChild(s);
})(window, document, "/widget/trustchat.js");
