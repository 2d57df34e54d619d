// Live console: server-sent events refresh the page's content without a reload, and
// countdowns tick between refreshes (on the services' clock, which may be accelerated).
(function () {
  "use strict";
  var lang = document.documentElement.lang === "en" ? "en" : "ko";
  var units = lang === "ko" ? ["일", "시간", "분", "초"] : [" d", " h", " min", " s"];
  var loadedAt = Date.now();

  function duration(ms) {
    var total = Math.floor(Math.abs(ms) / 1000);
    var parts = [Math.floor(total / 86400), Math.floor((total % 86400) / 3600),
      Math.floor((total % 3600) / 60), total % 60];
    var shown = [];
    for (var i = 0; i < 4 && shown.length < 2; i++) {
      if (parts[i]) { shown.push(parts[i] + units[i]); }
    }
    return shown.length ? shown.join(" ") : "0" + units[3];
  }

  function serviceNow() {
    var page = document.getElementById("page");
    var now = Number(page.dataset.nowMs), speed = Number(page.dataset.speed) || 1;
    return now + (Date.now() - loadedAt) * speed;
  }

  var clockFormat = null;
  function showClock(now) {
    var el = document.getElementById("clock-now");
    if (!el) { return; }
    if (!clockFormat) {
      // Same shape as the server's "MM-DD HH:MM", in the console's time zone.
      clockFormat = new Intl.DateTimeFormat("en-CA", { timeZone: document.getElementById("clock").dataset.zone,
        month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    }
    var parts = {};
    clockFormat.formatToParts(new Date(now)).forEach(function (p) { parts[p.type] = p.value; });
    el.textContent = parts.month + "-" + parts.day + " " + parts.hour + ":" + parts.minute;
  }

  function tick() {
    var now = serviceNow();
    showClock(now);
    document.querySelectorAll(".countdown[data-due-ms]").forEach(function (el) {
      var left = Number(el.dataset.dueMs) - now;
      var row = el.closest("tr");
      if (left < 0) {
        el.textContent = el.dataset.overdue + " " + duration(left);
        el.classList.add("overdue");
        if (row) { row.classList.add("overdue"); }
      } else {
        el.textContent = duration(left);
      }
    });
    document.querySelectorAll(".since[data-from-ms]").forEach(function (el) {
      el.textContent = duration(now - Number(el.dataset.fromMs));
    });
  }

  var pending = null;
  function refresh() {
    if (pending) { return; }
    pending = setTimeout(function () {
      fetch(window.location.href, { credentials: "same-origin", headers: { "X-Live": "1" } })
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) {
          pending = null;
          if (!html) { return; }
          var doc = new DOMParser().parseFromString(html, "text/html");
          var fresh = doc.getElementById("live");
          if (fresh) {
            document.getElementById("live").innerHTML = fresh.innerHTML;
            loadedAt = Date.now();
            tick();
          }
        })
        .catch(function () { pending = null; });
    }, 150);
  }

  function toast(text) {
    var el = document.getElementById("toast");
    if (!el) { return; }
    el.textContent = el.dataset.label + ": " + text;
    el.classList.add("shown");
    setTimeout(function () { el.classList.remove("shown"); }, 4000);
  }

  var state = document.getElementById("live-state");
  if (window.EventSource) {
    var source = new EventSource("/events");
    source.addEventListener("hello", function () {
      if (state) { state.textContent = state.dataset.live; state.className = "live-state on"; }
    });
    source.onerror = function () {
      if (state) { state.textContent = state.dataset.offline; state.className = "live-state off"; }
    };
    ["alert", "escalation", "task", "outcome", "notification", "case", "job"].forEach(function (kind) {
      source.addEventListener(kind, function (event) {
        if (kind === "alert") {
          try {
            var data = JSON.parse(event.data);
            if (data.summary.indexOf("opened") === 0) { toast(data.household_id); }
          } catch (e) { /* ignore malformed news */ }
        }
        refresh();
      });
    });
  }
  setInterval(tick, 1000);
  tick();
})();
