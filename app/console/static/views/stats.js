// The monthly activity (analysts, administrators): the table, its chart, and the same figures for a
// spreadsheet.
import { api, apiFile } from "../api.js";
import { $, cell, refuse, say } from "../dom.js";
import { METHODS, decimal, label } from "../i18n.js";
import { state } from "../state.js";
import { lastTwelveMonths } from "../time.js";

// An analyst comes for last year: the form starts there.
export function defaultMonths() {
  const { from, to } = lastTwelveMonths();
  $("#stats [name=from]").value = from; $("#stats [name=to]").value = to;
}

$("#stats").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  const q = new URLSearchParams({ territory: state.territory, from: f.get("from"), to: f.get("to") });
  try {
    const report = await api("GET", `/v1/stats/monthly?${q}`);
    const body = $("#stats-table tbody"); body.replaceChildren();
    const pct = (d) => (d ? `${d.count} (${Math.round(d.share * 100)} %)` : "—");
    for (const m of [...report.months, { ...report.total, month: "Total" }]) {
      const tr = document.createElement("tr");
      cell(tr, m.month); cell(tr, m.calls); cell(tr, pct(m.decisions.advice)); cell(tr, pct(m.decisions.slot));
      cell(tr, pct(m.decisions.prescription)); cell(tr, pct(m.decisions.other)); cell(tr, m.avoided_ed_visits?.count);
      const median = m.callback_delay?.median_minutes;
      cell(tr, median == null ? "—" : `${decimal(Math.round(median * 10) / 10)} min`);
      cell(tr, `${Math.round((m.slots?.fill_rate || 0) * 100)} %`);
      body.appendChild(tr);
    }
    const a = report.total.avoided_ed_visits || {};
    $("#stats-method").textContent = `Moyenne mensuelle : ${decimal(report.total.monthly_average_calls)} appels. ` +
      `Passages aux urgences évités estimés par la méthode ${label(METHODS, a.method)}.`;
    const chart = $("#stats-chart"); chart.src = await statsFile("png"); chart.hidden = false;
  } catch (err) { refuse($("#stats"), err); }
});

function statsFile(format) {
  const f = new FormData($("#stats"));
  const q = new URLSearchParams({ territory: state.territory, from: f.get("from"), to: f.get("to"), format });
  return apiFile(`/v1/stats/monthly?${q}`);
}
async function download(format, extension) {
  const f = new FormData($("#stats"));
  try {
    const a = document.createElement("a"); a.href = await statsFile(format);
    a.download = `snp-${state.territory}-${f.get("from")}-${f.get("to")}.${extension}`; a.click();
  } catch (err) { say(err.message, false); }
}
$("#stats-csv").onclick = (e) => { e.preventDefault(); download("csv-fr", "csv"); };
$("#stats-xlsx").onclick = (e) => { e.preventDefault(); download("xlsx", "xlsx"); };
