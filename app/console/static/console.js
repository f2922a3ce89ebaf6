// Console of the SAS ambulatoire: the entry module. It signs the user in (a pasted token, or Pro Santé
// Connect) and shows the views of his role; each view is its own module under views/.
import { ApiError, api } from "./api.js";
import { clearBanner } from "./banner.js";
import { $, busy, say } from "./dom.js";
import { ROLES, priorityLabel } from "./i18n.js";
import { remember, state } from "./state.js";
import { BROWSER_ZONE, formatter } from "./time.js";
import "./views/call.js";
import "./views/coordination.js";
import "./views/keys.js";
import "./views/mine.js";
import "./views/overcapacity.js";
import { endSession, keepSession } from "./session.js";
import { live, signInAgain, stopFollowing } from "./views/live.js";
import { loadQueue } from "./views/queue.js";
import { myRedirections } from "./views/redirection.js";
import "./views/slots.js";
import { askSignIn, forgetLink, openAgenda, pendingLink } from "./views/agenda.js";
import { acceptTerms } from "./views/terms.js";
import { defaultMonths } from "./views/stats.js";
import { DIRECT, REGULATION, arrangeTabs } from "./views/tabs.js";

// The page's state stays reachable from the developer tools (and the browser tests), as when the
// console was one classic script.
globalThis.state = state;

async function signIn() {
  try {
    state.me = await api("GET", "/v1/me");
  } catch (err) { $("#whoami").textContent = err.message; return; }
  clearBanner();
  if (state.me.terms_to_accept) {  // a regulator of the national platform, at his first sign-in
    await acceptTerms();
    return signIn();
  }
  const me = state.me;
  const home = me.territories.find((t) => t.code === state.territory) || me.territories[0];
  if (home && home.code !== state.territory) {  // the registry's territories, not a stale choice
    state.territory = home.code; $("#territory").value = home.code; sessionStorage.setItem("snp.territory", home.code);
  }
  state.timeZone = home ? home.timezone : undefined;
  await territoryDelays(home);
  state.format = formatter(state.timeZone);
  const zone = state.timeZone && state.timeZone !== BROWSER_ZONE ? ` — heures de ${state.timeZone}` : "";
  const names = me.territories.map((t) => t.name).join(", ") || "tous territoires";
  $("#whoami").textContent = `${me.display_name ? `${me.display_name}, ` : ""}${ROLES[me.role] || me.role} — ${names}${zone}`;
  $("#tz").textContent = zone;
  keepSession(me.expires_at, { renewable: sessionStorage.getItem("snp.renewable") === "1", onRenewed: () => live.open(),
    signInAgain, format: state.format });
  arrangeTabs(me.role);
  if (DIRECT.includes(me.role)) myRedirections();
  if (me.role === "analyst") defaultMonths();
  const link = pendingLink();
  if (link && REGULATION.includes(me.role)) { await openAgenda(link); return; }  // the platform's link first
  if (REGULATION.includes(me.role)) { await loadQueue(); live.open(); }
}

// The territory's own callback delays name the priorities (the form's choices, the queue, the call).
async function territoryDelays(home) {
  state.delays = undefined;
  if (home) {
    try { state.delays = (await api("GET", `/v1/territories/${encodeURIComponent(home.code)}`)).priority_delays; }
    catch { /* the defaults name them */ }
  }
  for (const option of document.querySelectorAll("#new-call [name=priority] option, #correct [name=priority] option")) {
    option.textContent = priorityLabel(option.value, state.delays);
  }
}

// Sign-in through the identity provider (Pro Santé Connect): authorization code with PKCE (S256). The
// verifier stays in this tab; the server exchanges the code with the client secret, never seen here.
const b64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const random = (n) => b64url(crypto.getRandomValues(new Uint8Array(n)));
const REDIRECT = `${location.origin}/console/`;
async function startProviderSignIn(provider) {
  const verifier = random(48), stateValue = random(24), nonce = random(24);
  const challenge = b64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  sessionStorage.setItem("snp.pkce", JSON.stringify({ verifier, state: stateValue, territory: $("#territory").value.trim() }));
  const q = new URLSearchParams({ response_type: "code", client_id: provider.client_id, redirect_uri: REDIRECT,
    scope: provider.scope, state: stateValue, nonce, code_challenge: challenge, code_challenge_method: "S256" });
  location.assign(`${provider.authorization_endpoint}?${q}`);
}
async function finishProviderSignIn(params) {
  const pending = JSON.parse(sessionStorage.getItem("snp.pkce") || "null");
  sessionStorage.removeItem("snp.pkce");
  history.replaceState(null, "", "/console/");  // the code leaves the address bar at once
  if (params.get("error")) { say("Connexion refusée par Pro Santé Connect.", false); return; }
  if (!pending || pending.state !== params.get("state")) { say("Connexion interrompue : recommencez.", false); return; }
  const link = pendingLink();  // arrived by the national platform's link: a session opened from it
  const response = await fetch("/v1/auth/token", { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ code: params.get("code"), code_verifier: pending.verifier, redirect_uri: REDIRECT,
      ...(link && link.origin === "sas" ? { origin: "sas" } : {}) }) });
  const data = await response.json().catch(() => null);
  if (!response.ok) { say(new ApiError(response.status, data).message, false); return; }
  state.token = data.access_token; state.territory = pending.territory || state.territory;
  remember();
  sessionStorage.setItem("snp.renewable", data.renewable ? "1" : "0");
  $("#territory").value = state.territory;
  await signIn();
}
async function prepareSignIn() {
  let config = { provider: null, token_paste: true };
  try { config = await (await fetch("/v1/auth/config")).json(); } catch { /* offline: paste stays */ }
  const providerButton = $("#provider-sign-in");
  providerButton.hidden = !config.provider;
  $("#paste").hidden = !config.token_paste;
  $("#token").required = !!config.token_paste;
  if (config.provider) providerButton.onclick = () => busy(providerButton, () => startProviderSignIn(config.provider));
  const params = new URLSearchParams(location.search);
  if (params.has("code") || params.has("error")) await finishProviderSignIn(params);
  else if (state.token) { $("#token").value = state.token; $("#territory").value = state.territory; signIn(); }
  else if (pendingLink()) askSignIn();
}

$("#session").addEventListener("submit", (e) => {
  e.preventDefault();
  state.token = $("#token").value.trim();
  state.territory = $("#territory").value.trim();
  remember();
  sessionStorage.setItem("snp.renewable", "0");  // a pasted token has no refresh token behind it
  signIn();
});
$("#territory").addEventListener("change", () => {
  if (!state.me) return;
  state.territory = $("#territory").value.trim(); sessionStorage.setItem("snp.territory", state.territory);
  live.forget(); signIn();
});
$("#sign-out").onclick = () => {
  sessionStorage.clear(); forgetLink(); state.token = ""; state.me = null; stopFollowing(); clearBanner(); endSession();
  $("#token").value = ""; $("#whoami").textContent = "déconnecté"; $("#queue tbody").replaceChildren();
};

prepareSignIn();
