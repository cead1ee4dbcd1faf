"""The page's inline style and script, and the Content-Security-Policy that allows them.

Both are inlined into ``index.html``; the policy allows exactly these two by their
sha256, so nothing else on the page (nor anything a board's string could smuggle in)
can run or restyle it.
"""

from __future__ import annotations

import base64
import hashlib

CSS = """
:root { --fg:#1d2330; --muted:#5b6475; --line:#d9dde5; --head:#f2f4f8; --accent:#2457c5; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
       margin: 0 auto; max-width: 1500px; padding: 24px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 36px 0 4px; border-bottom: 2px solid var(--line);
     padding-bottom: 4px; }
h3 { font-size: 15px; margin: 20px 0 6px; }
p.meta, p.note, figcaption { color: var(--muted); margin: 4px 0; }
code { font-size: 12px; }
.wrap { overflow-x: auto; }
table { border-collapse: collapse; margin: 8px 0 4px; font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid var(--line); padding: 5px 9px; text-align: right;
         white-space: nowrap; }
th { background: var(--head); position: sticky; top: 0; cursor: pointer; user-select: none; }
th:focus { outline: 2px solid var(--accent); }
th[aria-sort="ascending"]::after { content: " \\25B2"; color: var(--accent); }
th[aria-sort="descending"]::after { content: " \\25BC"; color: var(--accent); }
td.t, th.t { text-align: left; }
td.wrap-text { white-space: normal; min-width: 12em; max-width: 26em; }
td.na { color: var(--muted); }
tr.unranked td { color: var(--muted); }
tr:hover td { background: #f7f9fc; }
.ci { color: var(--muted); font-size: 12px; }
figure { margin: 12px 0; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
"""

JS = """
(function () {
  function sortTable(table, col, dir) {
    var th = table.tHead.rows[0].cells[col];
    if (!th) { return; }
    var numeric = th.getAttribute('data-type') === 'number';
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[col].getAttribute('data-sort'), y = b.cells[col].getAttribute('data-sort');
      var xe = x === null || x === '', ye = y === null || y === '';
      if (xe || ye) { return xe === ye ? 0 : (xe ? 1 : -1); }
      var c = numeric ? parseFloat(x) - parseFloat(y) : x.localeCompare(y);
      return dir === 'asc' ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) {
      h.setAttribute('aria-sort', 'none');
    });
    th.setAttribute('aria-sort', dir === 'asc' ? 'ascending' : 'descending');
    table.setAttribute('data-sorted', col + ':' + dir);
  }
  function toggle(table, col) {
    var th = table.tHead.rows[0].cells[col];
    var cur = th.getAttribute('aria-sort');
    var first = th.getAttribute('data-first') || 'asc';
    var dir = cur === 'ascending' ? 'desc' : cur === 'descending' ? 'asc' : first;
    sortTable(table, col, dir);
  }
  var tables = document.querySelectorAll('table.sortable');
  Array.prototype.forEach.call(tables, function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, i) {
      th.tabIndex = 0;
      th.addEventListener('click', function () { toggle(table, i); });
      th.addEventListener('keydown', function (ev) {
        if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); toggle(table, i); }
      });
    });
  });
  // URL hooks, e.g. page.html#sort=entries-0.3:asc or #click=entries-0.3,entries-0.3
  var hash = decodeURIComponent(location.hash || '');
  var m = /sort=([A-Za-z0-9_-]+)\\.(\\d+):(asc|desc)/.exec(hash);
  if (m) {
    var t = document.getElementById(m[1]);
    if (t) { sortTable(t, parseInt(m[2], 10), m[3]); }
  }
  var c = /click=([A-Za-z0-9_.,-]+)/.exec(hash);
  if (c) {
    c[1].split(',').forEach(function (item) {
      var parts = item.split('.'), t = document.getElementById(parts[0]);
      var th = t && t.tHead.rows[0].cells[parseInt(parts[1], 10)];
      if (th) { th.click(); }
    });
  }
  function plots() {
    var imgs = document.querySelectorAll('img.plot'), ok = 0;
    Array.prototype.forEach.call(imgs, function (img) {
      if (img.complete && img.naturalWidth > 0) { ok += 1; img.setAttribute('data-ok', '1'); }
    });
    document.body.setAttribute('data-plots', ok + '/' + imgs.length);
  }
  plots();
  window.addEventListener('load', plots);
})();
"""


def csp() -> str:
    def h(s: str) -> str:
        return "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"

    return (f"default-src 'none'; img-src data:; style-src {h(CSS)}; script-src {h(JS)}; "
            "base-uri 'none'; form-action 'none'")
