/* callqa report: seek the recording to findings; collect QA verdicts in this browser and
   download them as CSV for `callqa review --import`. No network, no innerHTML. */
(function () {
  "use strict";
  var KEY = "callqa.verdicts.v1", WHO = "callqa.reviewer", memory = {};

  function store() {
    try { return window.localStorage; } catch (e) { return null; }
  }
  function load() {
    var s = store();
    if (!s) { return memory; }
    try { return JSON.parse(s.getItem(KEY) || "{}") || {}; } catch (e) { return {}; }
  }
  function save(v) {
    memory = v;
    var s = store();
    if (s) { try { s.setItem(KEY, JSON.stringify(v)); } catch (e) { /* quota or disabled */ } }
  }
  function reviewer() {
    var input = document.getElementById("reviewer");
    return input && input.value.trim() ? input.value.trim() : "";
  }

  /* -- audio ------------------------------------------------------------------------- */
  var audio = document.getElementById("player");
  function mark(targetId) {
    document.querySelectorAll("li.utt.target").forEach(function (el) { el.classList.remove("target"); });
    var el = targetId ? document.getElementById(targetId) : null;
    if (el) { el.classList.add("target"); el.scrollIntoView({ block: "center" }); }
  }
  function seek(seconds, targetId, play) {
    mark(targetId);
    if (!audio || !isFinite(seconds)) { return; }
    audio.currentTime = Math.max(0, seconds);
    if (play) {
      var p = audio.play();
      if (p && p.catch) { p.catch(function () { /* autoplay refused: position is still set */ }); }
    }
  }
  document.querySelectorAll("[data-seek]").forEach(function (el) {
    el.addEventListener("click", function (ev) {
      ev.preventDefault();
      seek(parseFloat(el.getAttribute("data-seek")), el.getAttribute("data-target"), true);
    });
  });
  if (audio) {
    var utts = Array.prototype.slice.call(document.querySelectorAll("li.utt"));
    audio.addEventListener("timeupdate", function () {
      var t = audio.currentTime;
      utts.forEach(function (u) {
        var on = t >= parseFloat(u.getAttribute("data-start")) && t < parseFloat(u.getAttribute("data-end"));
        u.classList.toggle("playing", on);
      });
    });
  }
  function fromHash() {
    var m = /^#finding-(\d+)$/.exec(window.location.hash || "");
    var row = m ? document.getElementById("finding-" + m[1]) : null;
    var btn = row ? row.querySelector("[data-seek]") : null;
    if (btn) { seek(parseFloat(btn.getAttribute("data-seek")), btn.getAttribute("data-target"), false); }
  }
  window.addEventListener("hashchange", fromHash);
  fromHash();

  /* -- verdicts ---------------------------------------------------------------------- */
  function paint() {
    var v = load();
    document.querySelectorAll("tr[data-finding]").forEach(function (row) {
      var got = v[row.getAttribute("data-finding")];
      row.classList.toggle("local-confirmed", !!got && got.verdict === "confirmed");
      row.classList.toggle("local-rejected", !!got && got.verdict === "rejected");
      var note = row.querySelector("input.note");
      if (note && got && got.note && !note.value) { note.value = got.note; }
    });
    var count = document.getElementById("verdict-count");
    if (count) { count.textContent = String(Object.keys(v).length); }
  }
  document.querySelectorAll("tr[data-finding] [data-verdict]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var row = btn.closest("tr[data-finding]"), v = load(), id = row.getAttribute("data-finding");
      var note = row.querySelector("input.note");
      v[id] = {
        call_id: row.getAttribute("data-call"), finding_id: id, kind: row.getAttribute("data-kind"),
        verdict: btn.getAttribute("data-verdict"), note: note ? note.value.trim() : "",
        reviewer: reviewer(), reviewed_at: new Date().toISOString()
      };
      save(v);
      paint();
    });
  });
  var who = document.getElementById("reviewer");
  if (who) {
    var s = store();
    try { who.value = (s && s.getItem(WHO)) || ""; } catch (e) { /* ignore */ }
    who.addEventListener("change", function () { try { if (s) { s.setItem(WHO, who.value.trim()); } } catch (e) { /* ignore */ } });
  }

  function csvCell(value) {
    var text = value == null ? "" : String(value);
    if (/^[=+\-@\t\r']/.test(text)) { text = "'" + text; }  /* no spreadsheet formulas: as core/csvsafe.py */
    return /[",\r\n]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
  }
  function verdictsCsv() {
    var cols = ["call_id", "finding_id", "kind", "verdict", "note", "reviewer", "reviewed_at"];
    var rows = [cols.join(",")], v = load(), name = reviewer();
    Object.keys(v).sort().forEach(function (id) {
      var r = v[id];
      if (!r.reviewer) { r.reviewer = name; }
      rows.push(cols.map(function (c) { return csvCell(r[c]); }).join(","));
    });
    return rows.join("\r\n") + "\r\n";
  }
  window.callqaVerdictsCsv = verdictsCsv;
  var download = document.getElementById("download-csv");
  if (download) {
    download.addEventListener("click", function () {
      var blob = new Blob(["\ufeff" + verdictsCsv()], { type: "text/csv;charset=utf-8" });
      var a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = "verdicts-" + new Date().toISOString().slice(0, 10) + ".csv";
      document.body.appendChild(a);
      a.click();
      setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 0);
    });
  }
  var clear = document.getElementById("clear-verdicts");
  if (clear) {
    clear.addEventListener("click", function () {
      if (window.confirm("Forget the verdicts made on this page (not those already imported)?")) { save({}); paint(); }
    });
  }
  paint();
}());
