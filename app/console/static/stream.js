// The live stream: fetch with the token in a header (never in the URL), Server-Sent Events read by hand.
// Nothing here touches the page: what to show is the caller's, through the handlers, so that node tests
// the reading and the reconnection without a browser.

export const RETRY_MS = 2000;
// Ends the server gives for a reason another connection would not change: no reconnection after them.
export const FINAL_ENDS = ["expired", "replaced"];

// Splits what has arrived into whole events (their names; a block without a name, as the keep-alive
// comment, gives none) and what is left for the next chunk.
export function splitEvents(buffer) {
  const names = [];
  let end;
  while ((end = buffer.indexOf("\n\n")) >= 0) {
    const block = buffer.slice(0, end); buffer = buffer.slice(end + 2);
    const name = /^event: ?(.*)$/m.exec(block)?.[1];
    if (name) names.push(name);
  }
  return { names, rest: buffer };
}

// Reads a response body to its end, telling each event's name; returns the last one.
export async function readEvents(body, onEvent) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "", last = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    const { names, rest } = splitEvents(buffer + value.replace(/\r\n?/g, "\n"));
    buffer = rest;
    for (const name of names) { last = name; onEvent(name); }
  }
  return last;
}

// One stream at a time: opening aborts the previous one, and only the newest reconnects.
//   token()            the token of the moment (a reconnection takes the current one)
//   onLive()           the server accepted the stream
//   onRefused(status)  it did not (no reconnection: signing in again opens a new one)
//   onEvent(name)      an event arrived
//   onEnd(name)        it ended with one of FINAL_ENDS (no reconnection)
//   onRetry()          it ended or broke otherwise: a new connection in RETRY_MS
// fetch and later (setTimeout) are the page's, looked up at each use as a plain call would, unless a
// test gives its own.
export function liveStream({ url = "/v1/stream", token, onLive, onRefused, onEvent, onEnd, onRetry,
  fetch = (...args) => globalThis.fetch(...args), later = (...args) => globalThis.setTimeout(...args) }) {
  let current = null;
  async function open() {
    if (current) current.abort();
    const controller = new AbortController(); current = controller;
    try {
      const response = await fetch(url, { headers: { Authorization: `Bearer ${token()}` }, signal: controller.signal });
      if (!response.ok) { onRefused(response.status); return; }
      onLive();
      const last = await readEvents(response.body, onEvent);
      if (FINAL_ENDS.includes(last)) { onEnd(last); return; }
    } catch (err) { if (err.name === "AbortError") return; }
    onRetry();
    // The reconnection's promise is given back so that a test's clock can wait for it.
    later(() => (current === controller ? open() : undefined), RETRY_MS);
  }
  return { open, abort() { if (current) current.abort(); } };
}
