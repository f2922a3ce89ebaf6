// The session through a shift: a token signed in through the identity provider is renewed before it
// ends (POST /v1/auth/refresh: the server holds the refresh token in a cookie no script reads), without
// touching the screen; a token that cannot be renewed (pasted, or refused) gets a banner five minutes
// before its end, asking to sign in again in place.
import { clearBanner, showBanner } from "./banner.js";
import { remember, state } from "./state.js";
import { renewIn } from "./time.js";

export const WARN_BEFORE_MS = 5 * 60000;

let timer = null;

// expiresAt: the token's end (ISO); renewable: the server keeps a refresh token for this session;
// onRenewed(): what a new token changes (the live stream reopens with it); signInAgain(): the banner's action.
export function keepSession(expiresAt, { renewable, onRenewed, signInAgain, format }) {
  clearTimeout(timer);
  if (!expiresAt) return;
  const end = new Date(expiresAt), left = end - Date.now();
  if (left <= 0) return;
  const warn = (why) => showBanner(`${why}Votre session expire à ${format.format(end)} : reconnectez-vous avant la fin de l'appel en cours.`,
    "Se reconnecter", signInAgain);
  if (!renewable) { timer = setTimeout(() => warn(""), Math.max(0, left - WARN_BEFORE_MS)); return; }
  timer = setTimeout(async () => {
    let data = null;
    try {
      const response = await fetch("/v1/auth/refresh", { method: "POST" });
      if (response.ok) data = await response.json();
    } catch { /* the network: said below */ }
    if (!data || !data.access_token) { warn("La session n'a pas pu être renouvelée. "); return; }
    state.token = data.access_token; remember();
    clearBanner();
    onRenewed();
    keepSession(data.expires_at, { renewable: data.renewable, onRenewed, signInAgain, format });
  }, renewIn(left));
}

export function endSession() {
  clearTimeout(timer);
  fetch("/v1/auth/sign-out", { method: "POST" }).catch(() => {});  // the kept refresh token goes too
}
