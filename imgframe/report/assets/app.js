// imgframe report: sort, filter and facet the image list; render only the visible rows.
// Reads the JSON data block, writes text with textContent only (never HTML), loads nothing.
(function () {
  "use strict";
  var block = document.getElementById("report-data");
  var app = document.getElementById("list-app");
  if (!block || !app) { return; }
  var model = JSON.parse(block.textContent);
  var n = model.rows, data = model.data, dicts = model.dicts, cols = model.columns;
  var byKey = {};
  cols.forEach(function (c) { byKey[c.key] = c; });
  var ROW = 30, EXTRA = 12;

  var viewport = document.getElementById("list-viewport");
  var body = document.getElementById("list-body");
  var headRow = document.getElementById("list-head");
  var countLine = document.getElementById("list-count");
  var search = document.getElementById("list-search");
  var reset = document.getElementById("list-reset");
  var facetBox = document.getElementById("list-facets");

  var view = new Int32Array(n);
  var viewLength = n;
  var sortKey = null, sortDir = 1;
  var query = "";
  var selected = {};
  var hay = null;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }
  function fmt(v) { return v === null || v === undefined ? "" : v.toLocaleString("en-US"); }

  // ---- header with sort buttons
  var ths = {};
  cols.forEach(function (c) {
    var th = el("th");
    th.setAttribute("scope", "col");
    th.setAttribute("aria-sort", "none");
    if (c.type === "number") { th.className = "num"; }
    var b = el("button", "", c.label);
    b.type = "button";
    b.title = "Sort by " + c.label;
    b.addEventListener("click", function () { sortBy(c.key); });
    th.appendChild(b);
    headRow.appendChild(th);
    ths[c.key] = th;
  });

  // ---- facets
  var facets = model.facets;
  var selects = {};
  facets.forEach(function (key) {
    var label = el("label", "", key === "p" ? "Problem" : byKey[key].label);
    var select = el("select");
    select.setAttribute("data-facet", key);
    select.addEventListener("change", function () {
      selected[key] = select.value === "" ? null : Number(select.value);
      update();
    });
    label.appendChild(select);
    facetBox.appendChild(label);
    selects[key] = select;
    selected[key] = null;
  });

  function facetOptions(key) {
    if (key === "p") {
      var opts = [[-1, "any problem"], [0, "no problem"]];
      model.flags.forEach(function (f) { opts.push([f[0], f[1]]); });
      return opts;
    }
    return dicts[key].map(function (label, code) { return [code, label]; });
  }
  function facetPasses(key, i, value) {
    if (key !== "p") { return data[key][i] === value; }
    var p = data.p[i];
    if (value === -1) { return p !== 0; }
    if (value === 0) { return p === 0; }
    return (p & value) !== 0;
  }

  function haystack() {
    if (hay) { return hay; }
    hay = new Array(n);
    var parts = ["id", "n", "tg", "w", "rg"].filter(function (k) { return k in data; });
    for (var i = 0; i < n; i++) {
      var s = "";
      for (var j = 0; j < parts.length; j++) {
        var k = parts[j], v = data[k][i];
        s += " " + (byKey[k].type === "dict" ? dicts[k][v] : v);
      }
      hay[i] = s.toLowerCase();
    }
    return hay;
  }

  // ---- filtering with facet counts (each facet counted under every other filter)
  function update() {
    var active = facets.filter(function (k) { return selected[k] !== null; });
    var h = query ? haystack() : null;
    var counts = {};
    facets.forEach(function (k) { counts[k] = {}; });
    var out = [];
    for (var i = 0; i < n; i++) {
      if (h && h[i].indexOf(query) < 0) { continue; }
      var failed = null, fails = 0;
      for (var a = 0; a < active.length; a++) {
        if (!facetPasses(active[a], i, selected[active[a]])) {
          fails++; failed = active[a];
          if (fails > 1) { break; }
        }
      }
      if (fails > 1) { continue; }
      for (var f = 0; f < facets.length; f++) {
        var key = facets[f];
        if (fails === 1 && key !== failed) { continue; }
        var c = counts[key];
        if (key === "p") {
          var p = data.p[i];
          c[p === 0 ? 0 : -1] = (c[p === 0 ? 0 : -1] || 0) + 1;
          model.flags.forEach(function (fl) { if (p & fl[0]) { c[fl[0]] = (c[fl[0]] || 0) + 1; } });
        } else {
          var v = data[key][i];
          c[v] = (c[v] || 0) + 1;
        }
      }
      if (fails === 0) { out.push(i); }
    }
    facets.forEach(function (key) { fillSelect(key, counts[key]); });
    viewLength = out.length;
    view = Int32Array.from(out);
    applySort();
    viewport.scrollTop = 0;
    render(true);
  }

  function fillSelect(key, counts) {
    var select = selects[key];
    while (select.firstChild) { select.removeChild(select.firstChild); }
    var total = 0;
    Object.keys(counts).forEach(function (k) { if (key !== "p" || Number(k) <= 0) { total += counts[k]; } });
    var all = el("option", "", "all (" + fmt(total) + ")");
    all.value = "";
    select.appendChild(all);
    facetOptions(key).forEach(function (pair) {
      var count = counts[pair[0]] || 0;
      if (!count && selected[key] !== pair[0]) { return; }
      var o = el("option", "", pair[1] + " (" + fmt(count) + ")");
      o.value = String(pair[0]);
      if (selected[key] === pair[0]) { o.selected = true; }
      select.appendChild(o);
    });
  }

  // ---- sorting: dictionary codes are in label order, so codes compare as labels do
  var lower = {};
  function sortBy(key) {
    if (sortKey === key) { sortDir = -sortDir; } else { sortKey = key; sortDir = 1; }
    Object.keys(ths).forEach(function (k) {
      ths[k].setAttribute("aria-sort", k === sortKey ? (sortDir > 0 ? "ascending" : "descending") : "none");
    });
    applySort();
    render(true);
  }
  function applySort() {
    if (sortKey === null) { return; }
    var c = byKey[sortKey], v = data[sortKey], dir = sortDir, cmp;
    if (c.type === "text") {
      if (!lower[sortKey]) { lower[sortKey] = v.map(function (s) { return s.toLowerCase(); }); }
      var l = lower[sortKey];
      cmp = function (a, b) { return l[a] < l[b] ? -dir : l[a] > l[b] ? dir : a - b; };
    } else if (c.type === "number") {
      cmp = function (a, b) {
        var x = v[a], y = v[b];
        if (x === y) { return a - b; }
        if (x === null) { return 1; }
        if (y === null) { return -1; }
        return (x - y) * dir;
      };
    } else {
      cmp = function (a, b) { return v[a] === v[b] ? a - b : (v[a] - v[b]) * dir; };
    }
    view.sort(cmp);
  }

  // ---- windowed rendering: only the rows in view (plus a margin) are in the DOM
  var first = -1, last = -1;
  function cell(c, i) {
    var td = el("td"), v = data[c.key][i];
    if (c.type === "dict") {
      var label = dicts[c.key][v];
      if (c.key === "s") {
        var span = el("span", "st", label);
        span.style.setProperty("--c", model.colours[label] || "#999999");
        td.appendChild(span);
      } else { td.textContent = label; }
      td.title = label;
    } else if (c.type === "number") {
      td.className = "num";
      td.textContent = fmt(v);
    } else if (c.type === "flags") {
      model.flags.forEach(function (f) {
        if (v & f[0]) { td.appendChild(el("span", f[0] === 1 ? "flag failed" : "flag", f[1])); }
      });
    } else {
      td.textContent = v;
      td.title = v;
      if (c.key === "id") { td.className = "id"; }
    }
    return td;
  }
  function pad(height) {
    var tr = el("tr", "pad"), td = el("td");
    td.colSpan = cols.length;
    td.style.height = height + "px";
    tr.appendChild(td);
    return tr;
  }
  function render(force) {
    var top = viewport.scrollTop, height = viewport.clientHeight || 600;
    var from = Math.max(0, Math.floor(top / ROW) - EXTRA);
    var to = Math.min(viewLength, Math.ceil((top + height) / ROW) + EXTRA);
    if (!force && from === first && to === last) { return; }
    first = from; last = to;
    var frag = document.createDocumentFragment();
    frag.appendChild(pad(from * ROW));
    for (var r = from; r < to; r++) {
      var i = view[r], tr = el("tr");
      for (var c = 0; c < cols.length; c++) { tr.appendChild(cell(cols[c], i)); }
      frag.appendChild(tr);
    }
    frag.appendChild(pad((viewLength - to) * ROW));
    while (body.firstChild) { body.removeChild(body.firstChild); }
    body.appendChild(frag);
    var shown = viewLength ? (from + 1) + "–" + Math.min(to, viewLength) : "0";
    countLine.textContent = fmt(viewLength) + " of " + fmt(n) + " listed images match" +
      (viewLength ? " (rows " + shown + " in the page)" : "") + ".";
  }
  var pending = false;
  viewport.addEventListener("scroll", function () {
    if (pending) { return; }
    pending = true;
    window.requestAnimationFrame(function () { pending = false; render(false); });
  });

  var timer = null;
  search.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(function () { query = search.value.trim().toLowerCase(); update(); }, 150);
  });
  reset.addEventListener("click", function () {
    search.value = ""; query = "";
    facets.forEach(function (k) { selected[k] = null; });
    sortKey = null; sortDir = 1;
    Object.keys(ths).forEach(function (k) { ths[k].setAttribute("aria-sort", "none"); });
    update();
  });

  document.getElementById("list-static").hidden = true;
  app.hidden = false;
  app.setAttribute("data-ready", "true");
  update();
})();
