// Our terms of use, which a regulator the national SAS platform registered accepts at his first sign-in:
// nothing else opens until he does (the server refuses every other action meanwhile).
import { api } from "../api.js";
import { $, onSubmit, refuse } from "../dom.js";
import { paragraphs } from "../i18n.js";

let accepted = null;


// Shows the terms; resolves once they are accepted.
export async function acceptTerms() {
  const terms = await api("GET", "/v1/auth/terms");
  const box = $("#terms-text"); box.replaceChildren();
  for (const line of paragraphs(terms.text)) { const p = document.createElement("p"); p.textContent = line; box.append(p); }
  $("#terms").dataset.version = terms.version;
  document.querySelectorAll("main > section").forEach((s) => { s.hidden = s.id !== "terms"; });
  $("#terms").focus();
  return new Promise((resolve) => { accepted = resolve; });
}

onSubmit("#terms-accept", async (_, form) => {
  try {
    await api("POST", "/v1/auth/terms", { version: $("#terms").dataset.version });
  } catch (err) { refuse(form, err); return; }
  $("#terms").hidden = true;
  if (accepted) { const done = accepted; accepted = null; done(); }
});
