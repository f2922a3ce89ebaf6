// The few helpers every view uses to write the page.
import { state } from "./state.js";

export const $ = (sel) => document.querySelector(sel);
export function say(text, ok = true) { const m = $("#message"); m.textContent = text; m.className = ok ? "ok" : "error"; }
export function when(iso) { return iso ? state.format.format(new Date(iso)) : "—"; }
export function cell(row, text) { const td = document.createElement("td"); td.textContent = text ?? "—"; row.appendChild(td); return td; }
export function item(text) { const li = document.createElement("li"); li.textContent = text; return li; }
export function button(label, onclick) {
  const b = document.createElement("button"); b.type = "button"; b.textContent = label;
  b.onclick = () => busy(b, onclick); return b;
}
// A button does nothing more while its request is in flight: a double click never writes twice.
// A control that had the focus keeps it (disabling it dropped it): "Retenir" becomes "Réserver" under
// the user's hand, unless the action sent the focus somewhere useful.
export async function busy(element, action) {
  if (element.disabled) return;
  const focused = document.activeElement === element;
  element.disabled = true;
  try { await action(); } finally {
    element.disabled = false;
    if (focused && element.isConnected && (document.activeElement === document.body || !document.activeElement)) element.focus();
  }
}
export function guard(selector, action) { const el = $(selector); el.onclick = () => busy(el, action); }

// A form's submit does nothing more while its request is in flight; `after` says whether the button
// comes back (a form whose choices are missing stays disabled).
export function onSubmit(selector, action, after = () => false) {
  $(selector).addEventListener("submit", async (e) => {
    e.preventDefault();
    const submit = e.target.querySelector("button[type=submit]");
    if (submit.disabled) return;
    submit.disabled = true;
    try { await action(new FormData(e.target), e.target); } finally { submit.disabled = after(); }
  });
}

// A refusal said beside the field it concerns, and kept there until the user changes that field: a later
// message (a success, a live update) never hides it. Without a field of this form, said as a message.
export function refuse(form, err) {
  const field = err?.body?.field;
  const control = field && form ? controlOf(form, field) : null;
  say(err.message, false);
  if (!control) return;
  clearRefusal(control);
  const note = document.createElement("p");
  note.className = "field-error"; note.id = `${form.id || "form"}-${control.name}-error`; note.textContent = err.message;
  (control.closest("label") || control).after(note);
  control.setAttribute("aria-invalid", "true"); control.setAttribute("aria-describedby", note.id);
  control.addEventListener("input", () => clearRefusal(control), { once: true });
  control.addEventListener("change", () => clearRefusal(control), { once: true });
  control.focus();
}

function controlOf(form, field) {
  const last = field.split(".").pop();
  for (const name of [field, last, field.replaceAll(".", "_")]) {
    const control = form.querySelector(`[name="${name}"]`);
    if (control) return control;
  }
  return null;
}

function clearRefusal(control) {
  const id = control.getAttribute("aria-describedby");
  if (id) document.getElementById(id)?.remove();
  control.removeAttribute("aria-invalid"); control.removeAttribute("aria-describedby");
}

// A question asked in place, beside what it concerns (never a dialog that hides the page): "yes" runs the
// action once, "Annuler" puts the focus back where it was. Asked again, the same question is focused.
export function confirmInPlace(after, question, yes, action) {
  const next = after.nextElementSibling;
  if (next?.classList.contains("confirm-inline")) { next.querySelector("button").focus(); return; }
  const box = document.createElement("span"); box.className = "confirm-inline"; box.setAttribute("role", "group");
  box.setAttribute("aria-label", question); box.append(`${question} `);
  const ok = document.createElement("button"); ok.type = "button"; ok.textContent = yes;
  ok.onclick = () => busy(ok, async () => { if (await action() !== false) box.remove(); });
  const no = document.createElement("button"); no.type = "button"; no.textContent = "Annuler";
  no.onclick = () => { box.remove(); after.focus(); };
  box.append(ok, " ", no);
  after.after(box);
  ok.focus();
}
