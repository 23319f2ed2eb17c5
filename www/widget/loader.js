// The TrustChat loader snippet (see README "Embed the widget"). Paste it in
// an inline script element right after the async script element that loads
// your server's /widget/trustchat.js. It defines window.TrustChat at once:
// calls made before the widget arrives are queued and replayed in order,
// and the promises they return settle when the real calls do. getUser()
// and getAvailability() answer null until then, getUnreadCount() 0. If
// trustchat.js arrived first (it is async), the real TrustChat is already
// there and the snippet leaves it alone.
window.TrustChat || (function (w) {
  var q = [], T = (w.TrustChat = { q: q });
  "init setUser setJwt clearUser show close navigate on off".split(" ").forEach(function (m) {
    T[m] = function () {
      var a = [].slice.call(arguments);
      return new Promise(function (res, rej) { q.push([m, a, res, rej]); });
    };
  });
  T.getUser = T.getAvailability = function () { return null; };
  T.getUnreadCount = function () { return 0; };
})(window);
