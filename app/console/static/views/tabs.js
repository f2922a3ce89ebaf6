// The tabs: one shown at a time; a view that loads on showing registers here rather than being
// imported, so that this module imports no view.
import { $ } from "../dom.js";

const onShow = {};
export function whenShown(name, load) { onShow[name] = load; }

export function showTab(name) {
  document.querySelectorAll("nav button[data-tab]").forEach((x) => {
    x.classList.toggle("active", x.dataset.tab === name); x.setAttribute("aria-selected", String(x.dataset.tab === name));
  });
  document.querySelectorAll("main > section").forEach((s) => { s.hidden = s.id !== `tab-${name}`; });
  if (onShow[name]) onShow[name]();
}
document.querySelectorAll("nav button[data-tab]").forEach((b) => b.addEventListener("click", () => showTab(b.dataset.tab)));

// Each role sees its own views: the regulation the calls, the ED the slots and its redirections, the
// effector his activity, the analyst the statistics only, the CPTS's coordinator the patients without a médecin
// traitant.
const VIEWS = { operator: ["calls", "slots"], regulator: ["calls", "slots"], admin: ["calls", "slots", "stats", "mt"],
  urgences: ["slots"], referrer: ["slots"], effector: ["mine"], analyst: ["stats"], coordinator: ["mt"] };
export const REGULATION = ["operator", "regulator", "admin"];
export const DIRECT = ["urgences", "referrer"];

// The role's tabs and forms shown, the others hidden; its first tab opened.
export function arrangeTabs(role) {
  const views = VIEWS[role] || [];
  document.querySelectorAll("nav button[data-tab]").forEach((b) => { b.hidden = !views.includes(b.dataset.tab); });
  const direct = DIRECT.includes(role);
  $("#redirection").hidden = !direct; $("#my-redirections-block").hidden = !direct;
  $("#over-capacity").hidden = !REGULATION.includes(role);
  if (views.length) showTab(views[0]);
}
