// dockyard dashboard: live refresh and log streaming by polling this server.
// Server-rendered fragments replace refreshable sections; log lines arrive as JSON and are
// added as text (never as HTML). No inline code anywhere: the CSP allows scripts from here only.
"use strict";

(function () {
  const REFRESH_MS = 3000;
  const LOGS_MS = 1500;

  function get(url, accept) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: accept } }).then(function (answer) {
      if (answer.status === 401) {
        window.location.reload(); // the session ended: the page itself asks to log in
        throw new Error("logged out");
      }
      if (!answer.ok) throw new Error("HTTP " + answer.status);
      return accept === "application/json" ? answer.json() : answer.text();
    });
  }

  // Sections with data-refresh-url are re-rendered by the server every few seconds; one
  // that holds an element marked data-finished is final and stops refreshing.
  function keepFresh(section) {
    function tick() {
      if (document.hidden) return setTimeout(tick, REFRESH_MS);
      get(section.dataset.refreshUrl, "text/html")
        .then(function (html) {
          section.innerHTML = html;
          section.dataset.refreshed = String(Number(section.dataset.refreshed || "0") + 1);
          if (!section.querySelector("[data-finished]")) setTimeout(tick, REFRESH_MS);
        })
        .catch(function () { setTimeout(tick, REFRESH_MS * 2); });
    }
    if (!section.querySelector("[data-finished]")) setTimeout(tick, REFRESH_MS);
  }

  function cell(row, text, css) {
    const td = document.createElement("td");
    td.className = css;
    td.textContent = text;
    row.appendChild(td);
  }

  // The run page's log table: ask for lines after the last one shown until the run has
  // finished and nothing more arrives.
  function streamLogs(table) {
    const body = table.tBodies[0];
    const scroller = table.closest(".log-scroll");
    const empty = document.getElementById("logs-empty");
    const shown = new Set(Array.from(body.rows, function (row) { return row.dataset.logId; }));
    let after = table.dataset.after || "";
    let seen = table.dataset.seen || "0";
    let quietAfterEnd = 0;

    function tick() {
      const query = new URLSearchParams({ after: after, seen: seen, level: table.dataset.level || "" });
      get(table.dataset.logsUrl + "?" + query.toString(), "application/json")
        .then(function (page) {
          const atBottom = scroller && scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 40;
          page.lines.forEach(function (line) {
            if (shown.has(line.id)) return;
            shown.add(line.id);
            const row = document.createElement("tr");
            row.dataset.logId = line.id;
            row.className = "lv-" + String(line.level).toLowerCase();
            cell(row, line.time, "time");
            cell(row, line.level, "level");
            cell(row, line.name, "logger");
            cell(row, line.message, "message");
            body.appendChild(row);
          });
          if (page.lines.length && empty) empty.hidden = true;
          if (atBottom && page.lines.length) scroller.scrollTop = scroller.scrollHeight;
          if (page.after) after = page.after;
          seen = String(page.seen);
          quietAfterEnd = page.finished && !page.lines.length ? quietAfterEnd + 1 : 0;
          if (quietAfterEnd < 2) setTimeout(tick, LOGS_MS);
          else table.dataset.finished = "";
        })
        .catch(function () { setTimeout(tick, LOGS_MS * 3); });
    }
    setTimeout(tick, table.hasAttribute("data-finished") ? 0 : LOGS_MS);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-refresh-url]").forEach(keepFresh);
    document.querySelectorAll("table[data-logs-url]").forEach(streamLogs);
    document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      select.addEventListener("change", function () { select.form.submit(); });
    });
  });

  // Delegated: forms inside refreshed sections are replaced, their listeners with them.
  document.addEventListener("submit", function (event) {
    const form = event.target;
    if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });
})();
