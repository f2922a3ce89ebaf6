// The queue, live: the stream tells what changed, the queue is read again after each change and on
// every (re)connection. The badge is green only while the stream is connected and the last reading
// succeeded; otherwise it says, until that is true again, that the queue is no longer up to date.
import { clearBanner, showBanner } from "../banner.js";
import { $ } from "../dom.js";
import { liveState } from "../i18n.js";
import { state } from "../state.js";
import { liveStream } from "../stream.js";

// A failed reading is tried again, later each time, up to this.
const MAX_RELOAD_MS = 30000;
let loadQueue = async () => true;
const watchers = [];
let streaming = false, fresh = false, failures = 0, retryTimer = null, soonTimer = null;

// The queue's loader (the queue view's), given rather than imported: that view imports this one.
export function follow(loader) { loadQueue = loader; }
// What a view wants to know of each change of a call as it comes (the open call taken over elsewhere).
export function watch(watcher) { watchers.push(watcher); }
// What a view wants to know of each change of a slot (the slot list: held elsewhere, booked).
const slotWatchers = [];
export function watchSlots(watcher) { slotWatchers.push(watcher); }

function show() {
  const { text, className } = liveState(streaming, fresh);
  const badge = $("#live");
  badge.textContent = text; badge.className = className;
}

async function reload() {
  clearTimeout(retryTimer); clearTimeout(soonTimer);
  const ok = await loadQueue(true);
  fresh = ok;
  show();
  if (ok) { failures = 0; return; }
  if (streaming) retryTimer = setTimeout(reload, Math.min(1000 * 2 ** failures++, MAX_RELOAD_MS));
}
// A burst of events (a booking moves a call twice) reads the queue once.
function reloadSoon() { clearTimeout(soonTimer); soonTimer = setTimeout(reload, 150); }

// Signing in again (the form or the button of the banner) opens a new stream with the new token.
export function signInAgain() { const paste = $("#token"); if (!$("#paste").hidden) { paste.focus(); paste.select(); } else $("#provider-sign-in").click(); }

function offline() { streaming = false; clearTimeout(retryTimer); show(); }

export const live = liveStream({
  token: () => state.token,
  onLive: () => { streaming = true; show(); reload(); },
  onRefused: (status) => {
    offline();
    if (status === 401) showBanner("Votre session a expiré : la file n'est plus à jour. Reconnectez-vous.", "Se reconnecter", signInAgain);
  },
  onEvent: (name, data) => {
    if (name.startsWith("call.") || name === "reload") reloadSoon();
    if (name.startsWith("call.") && data) for (const watcher of watchers) watcher(name, data);
    if (name.startsWith("slot.") && data) for (const watcher of slotWatchers) watcher(name, data);
  },
  onEnd: (name) => {
    offline();
    if (name === "expired") showBanner("Votre session a expiré : la file n'est plus à jour. Reconnectez-vous.", "Se reconnecter", signInAgain);
    else showBanner("La file est suivie dans un autre onglet ouvert avec la même session : celui-ci n'est plus à jour.", "Suivre ici", () => { clearBanner(); live.open(); });
  },
  onRetry: offline,
});

export function stopFollowing() { live.abort(); live.forget(); offline(); fresh = false; }
