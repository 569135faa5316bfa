// Catalyst's only script, and optional: pages are complete without it. It adds the
// reader's local time to every exact time (times are written in UTC on the server).
"use strict";
document.querySelectorAll("time[datetime]").forEach(function (el) {
  if (el.dataset.precision === "day") return;
  var t = new Date(el.getAttribute("datetime"));
  if (isNaN(t)) return;
  var local = t.toLocaleString(undefined, {
    year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
    timeZoneName: "short"
  });
  el.title = el.textContent.trim();
  el.textContent = local + (el.dataset.precision === "hour" ? " (to the hour)" : "");
});
