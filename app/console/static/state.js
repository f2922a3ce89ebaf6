// What the page knows: the session (kept in this tab's sessionStorage), who signed in, the open call.
import { formatter } from "./time.js";

export const state = {
  token: sessionStorage.getItem("snp.token") || "", territory: sessionStorage.getItem("snp.territory") || "36",
  call: null, me: null, timeZone: undefined, calls: [], replacing: null, delays: undefined,
  // Dates shown in the territory's zone once it is known (the browser's until then).
  format: formatter(undefined),
};

export function remember() {
  sessionStorage.setItem("snp.token", state.token);
  sessionStorage.setItem("snp.territory", state.territory);
}

// Answers can come back out of order (a live reload, then a click): only the latest request of a kind
// is shown, never an older answer over a newer one.
const latest = {};
export function newest(kind) { const n = (latest[kind] || 0) + 1; latest[kind] = n; return () => latest[kind] === n; }
