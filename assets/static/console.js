// Vigil console: live updates from /ws/alerts, charts, small conveniences.
// Loaded with `defer` from the page's own origin (the CSP allows no inline
// script); every page works without it.
(function () {
  "use strict";

  // Live regions: elements with data-live="<fragment URL>" are reloaded
  // (server-rendered, escaped HTML) when the feed says an alert changed.
  function regions() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-live]"));
  }
  var fresh = new Set(); // ids of rows that arrived live, kept marked
  var timer = null;

  function ids(el) {
    return new Set(Array.prototype.map.call(el.querySelectorAll("tr[data-id]"), function (r) {
      return r.getAttribute("data-id");
    }));
  }

  function checked(el) {
    return new Set(Array.prototype.map.call(el.querySelectorAll("input[type=checkbox]:checked"), function (c) {
      return c.value;
    }));
  }

  function reload(el) {
    var before = ids(el), keep = checked(el);
    return fetch(el.getAttribute("data-live"), {
      credentials: "same-origin",
      headers: { "HX-Request": "true" }
    }).then(function (res) {
      if (res.status === 401) { location.reload(); return null; }
      return res.ok ? res.text() : null;
    }).then(function (html) {
      if (html === null) return;
      el.innerHTML = html;
      el.querySelectorAll("tr[data-id]").forEach(function (row) {
        var id = row.getAttribute("data-id");
        if (!before.has(id)) fresh.add(id);
        if (fresh.has(id)) row.classList.add("is-new");
        var box = row.querySelector("input[type=checkbox]");
        if (box && keep.has(id)) box.checked = true;
      });
      drawCharts(el);
      settleIfStale(el);
    }).catch(function () {});
  }

  // Figures the server computes in the background say when to ask again
  // (data-recheck="<ms>"), until they are new.
  function settleIfStale(el) {
    var mark = el.hasAttribute("data-live-settle") && el.querySelector("[data-recheck]");
    if (mark) {
      clearTimeout(el.vigilRecheck);
      el.vigilRecheck = setTimeout(function () { reload(el); },
        Math.min(parseInt(mark.getAttribute("data-recheck"), 10) || 1000, 30000));
    }
  }

  function schedule() {
    if (timer) return;
    timer = setTimeout(function () { timer = null; regions().forEach(reload); }, 150);
  }

  function connect(delay) {
    if (!window.WebSocket) return;
    var proto = location.protocol === "https:" ? "wss://" : "ws://";
    var ws = new WebSocket(proto + location.host + "/ws/alerts");
    ws.onmessage = schedule;
    ws.onopen = function () { delay = 1000; document.body.setAttribute("data-feed", "live"); };
    ws.onclose = function () {
      document.body.setAttribute("data-feed", "down");
      setTimeout(function () { connect(Math.min(delay * 2, 30000)); }, delay);
    };
  }

  // Charts: data-chart='{"x":[unix seconds…],"y":[counts…]}'.
  function drawCharts(root) {
    if (!window.uPlot) return;
    root.querySelectorAll("[data-chart]").forEach(function (el) {
      var data;
      try { data = JSON.parse(el.getAttribute("data-chart")); } catch (e) { return; }
      el.textContent = "";
      var width = Math.max(el.clientWidth || 600, 280);
      new window.uPlot({
        width: width, height: 200,
        scales: { x: { time: true } },
        series: [{}, { label: el.getAttribute("data-label") || "alerts", stroke: "#1f5fbf", fill: "rgba(31,95,191,0.12)", paths: window.uPlot.paths && window.uPlot.paths.bars ? window.uPlot.paths.bars({ size: [0.8, 40] }) : undefined }],
        axes: [{}, { size: 40 }],
        legend: { show: false }
      }, [data.x, data.y], el);
    });
  }

  // An upload field fills the textarea it names, so the form posts text.
  function fillers(root) {
    root.querySelectorAll("input[type=file][data-fills]").forEach(function (input) {
      if (input.hasAttribute("data-wired")) return;
      input.setAttribute("data-wired", "");
      input.addEventListener("change", function () {
        var file = input.files && input.files[0];
        var target = document.getElementById(input.getAttribute("data-fills"));
        if (!file || !target) return;
        file.text().then(function (text) { target.value = text; });
      });
    });
  }

  // New content (the first page, or one htmx swapped in): wire it up.
  var started = false;
  function init(root) {
    drawCharts(root);
    fillers(root);
    regions().forEach(function (el) { if (root.contains(el)) settleIfStale(el); });
  }
  document.addEventListener("htmx:load", function (e) { started = true; init(e.detail.elt); });

  // htmx requests carry the CSRF token as a header.
  document.body.addEventListener("htmx:configRequest", function (e) {
    e.detail.headers["X-CSRF-Token"] = document.body.getAttribute("data-csrf") || "";
  });

  if (!started) init(document);
  if (document.body.hasAttribute("data-signed-in")) connect(1000);
})();
