// Flexplatform's only script, progressive enhancement: pages work fully without it.
// Gate-closure countdowns ([data-countdown] on a <time datetime>) tick every second.
(function () {
  "use strict";
  function text(ms) {
    if (ms <= 0) { return "gate closed"; }
    var s = Math.floor(ms / 1000), d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600),
        m = Math.floor(s % 3600 / 60), r = s % 60;
    if (d) { return d + " d " + h + " h " + m + " min left"; }
    if (h) { return h + " h " + m + " min left"; }
    return m + " min " + r + " s left";
  }
  function tick() {
    var items = document.querySelectorAll("[data-countdown]");
    for (var i = 0; i < items.length; i++) {
      var t = Date.parse(items[i].getAttribute("datetime"));
      if (!isNaN(t)) { items[i].textContent = text(t - Date.now()); }
    }
  }
  document.addEventListener("DOMContentLoaded", function () {
    if (document.querySelector("[data-countdown]")) { tick(); setInterval(tick, 1000); }
  });
})();
