// The live stream: fetch with the token in a header (never in the URL), Server-Sent Events read by hand.
// Nothing here touches the page: what to show is the caller's, through the handlers, so that node tests
// the reading and the reconnection without a browser.

// Reconnection after a break: 1 s, then twice as long each time up to MAX_RETRY_MS, back to 1 s once
// a stream is accepted.
export const RETRY_MS = 1000;
export const MAX_RETRY_MS = 5000;
// The server writes at least a comment line every 15 s: a stream silent for this long is dead (a network
// that drops without closing), and is treated as broken.
export const SILENCE_MS = 30000;
// Ends the server gives for a reason another connection would not change: no reconnection after them.
export const FINAL_ENDS = ["expired", "replaced"];

export function retryDelay(attempt) { return Math.min(RETRY_MS * 2 ** attempt, MAX_RETRY_MS); }

// Splits what has arrived into whole events (their names, ids and JSON data; a block without a name, as
// the keep-alive comment, gives none) and what is left for the next chunk.
export function splitEvents(buffer) {
  const events = [];
  let end;
  while ((end = buffer.indexOf("\n\n")) >= 0) {
    const block = buffer.slice(0, end); buffer = buffer.slice(end + 2);
    const name = /^event: ?(.*)$/m.exec(block)?.[1];
    const id = /^id: ?(.*)$/m.exec(block)?.[1];
    const text = [...block.matchAll(/^data: ?(.*)$/gm)].map((m) => m[1]).join("\n");
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = null; }
    if (name) events.push({ name, id: id || null, data });
  }
  return { events, rest: buffer };
}

// Reads a response body to its end, telling each event (name, id) and each chunk (a sign of life);
// returns the last event's name.
export async function readEvents(body, onEvent, onChunk = () => {}) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "", last = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    onChunk();
    const { events, rest } = splitEvents(buffer + value.replace(/\r\n?/g, "\n"));
    buffer = rest;
    for (const event of events) { last = event.name; onEvent(event.name, event.id, event.data); }
  }
  return last;
}

// One stream at a time: opening aborts the previous one, and only the newest reconnects.
//   token()            the token of the moment (a reconnection takes the current one)
//   onLive()           the server accepted the stream
//   onRefused(status)  it did not (no reconnection: signing in again opens a new one)
//   onEvent(name, data) an event arrived (data: its JSON)
//   onEnd(name)        it ended with one of FINAL_ENDS (no reconnection)
//   onRetry(ms)        it ended, broke or fell silent: a new connection in ms
// A reconnection names the last event seen (Last-Event-ID): the server sends what was missed, or
// `reload`. fetch, later and cancel (setTimeout, clearTimeout) are the page's, looked up at each use as
// a plain call would, unless a test gives its own.
export function liveStream({ url = "/v1/stream", token, onLive, onRefused, onEvent, onEnd, onRetry,
  fetch = (...args) => globalThis.fetch(...args), later = (...args) => globalThis.setTimeout(...args),
  cancel = (...args) => globalThis.clearTimeout(...args), silenceMs = SILENCE_MS }) {
  let current = null, lastId = null, attempt = 0;
  async function open() {
    if (current) current.abort();
    const controller = new AbortController(); current = controller;
    let silent = false, watchdog = null;
    const alive = () => {
      if (watchdog !== null) cancel(watchdog);
      watchdog = later(() => { silent = true; controller.abort(); }, silenceMs);
    };
    try {
      const headers = { Authorization: `Bearer ${token()}` };
      if (lastId) headers["Last-Event-ID"] = lastId;
      const response = await fetch(url, { headers, signal: controller.signal });
      if (!response.ok) { onRefused(response.status); return; }
      attempt = 0;
      alive();
      onLive();
      const last = await readEvents(response.body, (name, id, data) => { if (id) lastId = id; onEvent(name, data); },
        alive);
      if (FINAL_ENDS.includes(last)) { onEnd(last); return; }
    } catch (err) {
      if (err.name === "AbortError" && !silent) return;  // closed on purpose: signing out, a newer stream
    } finally {
      if (watchdog !== null) cancel(watchdog);
    }
    if (current !== controller) return;
    const delay = retryDelay(attempt++);
    onRetry(delay);
    // The reconnection's promise is given back so that a test's clock can wait for it.
    later(() => (current === controller ? open() : undefined), delay);
  }
  return {
    open,
    abort() { if (current) current.abort(); current = null; },
    // A new session (another user, another territory): what was seen before says nothing of it.
    forget() { lastId = null; },
  };
}
