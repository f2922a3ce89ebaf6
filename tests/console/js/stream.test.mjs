// The live stream's reading and reconnection, with a fake server and a fake clock: after `expired` or
// `replaced` the console stays offline; after any other end or a network failure it reconnects.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { FINAL_ENDS, RETRY_MS, liveStream, readEvents, splitEvents } from "../../../app/console/static/stream.js";

function body(...chunks) {
  const encoder = new TextEncoder();
  return new ReadableStream({ start(controller) { for (const c of chunks) controller.enqueue(encoder.encode(c)); controller.close(); } });
}

// A server that answers each connection with the next of `answers`: a list of chunks, a status, an
// error to throw, or "hang" (a stream that stays open until the console aborts it).
function server(...answers) {
  const requests = [];
  async function fetch(url, init) {
    requests.push({ url, authorization: init.headers.Authorization });
    const answer = answers.shift();
    if (answer instanceof Error) throw answer;
    if (typeof answer === "number") return { ok: false, status: answer };
    if (answer === "hang") {
      const stream = new ReadableStream({
        start(controller) {
          init.signal.addEventListener("abort", () => controller.error(new DOMException("aborted", "AbortError")));
        },
      });
      return { ok: true, status: 200, body: stream };
    }
    return { ok: true, status: 200, body: body(...answer) };
  }
  return { fetch, requests };
}

function console_(fake, token = "t1") {
  const seen = [], timers = [];
  const stream = liveStream({
    url: "/v1/stream", token: () => token,
    onLive: () => seen.push("live"), onRefused: (status) => seen.push(`refused ${status}`),
    onEvent: (name) => seen.push(name), onEnd: (name) => seen.push(`end ${name}`), onRetry: () => seen.push("retry"),
    fetch: fake.fetch, later: (run, ms) => timers.push({ run, ms }),
  });
  return { stream, seen, timers, setToken: (t) => { token = t; } };
}

describe("reading Server-Sent Events", () => {
  it("names each whole event, ignores the keep-alive comment and keeps a partial one for later", () => {
    assert.deepEqual(splitEvents("event: ready\ndata: {}\n\n: keep-alive\n\nevent:call.created\ndata: {}\n\nevent: call.upd"),
      { names: ["ready", "call.created"], rest: "event: call.upd" });
  });

  it("joins events cut across chunks and reads CRLF line ends", async () => {
    const names = [];
    const last = await readEvents(body("event: rea", "dy\r\ndata: {}\r\n\r\nevent: call.created\n", "data: {}\n\n"),
      (name) => names.push(name));
    assert.deepEqual(names, ["ready", "call.created"]);
    assert.equal(last, "call.created");
  });
});

describe("the live stream", () => {
  it("sends the token in a header, never in the address", async () => {
    const fake = server(["event: ready\n\n", "event: expired\n\n"]);
    await console_(fake, "secret").stream.open();
    assert.deepEqual(fake.requests, [{ url: "/v1/stream", authorization: "Bearer secret" }]);
  });

  for (const end of FINAL_ENDS) {
    it(`stays offline after \`${end}\`: another connection would not change it`, async () => {
      const c = console_(server(["event: ready\ndata: {}\n\n", `event: ${end}\ndata: {}\n\n`]));
      await c.stream.open();
      assert.deepEqual(c.seen, ["live", "ready", end, `end ${end}`]);
      assert.equal(c.timers.length, 0);
    });
  }

  for (const end of ["lagging", "closing"]) {
    it(`reconnects after \`${end}\`, with the token of the moment`, async () => {
      const fake = server(["event: ready\n\n", `event: ${end}\n\n`], ["event: ready\n\n", "event: expired\n\n"]);
      const c = console_(fake);
      await c.stream.open();
      assert.deepEqual(c.seen, ["live", "ready", end, "retry"]);
      assert.deepEqual(c.timers.map((t) => t.ms), [RETRY_MS]);
      c.setToken("t2");
      await c.timers[0].run();
      assert.deepEqual(fake.requests.map((r) => r.authorization), ["Bearer t1", "Bearer t2"]);
      assert.equal(c.seen.at(-1), "end expired");
    });
  }

  it("reconnects when the server closes without a word, or the network fails", async () => {
    for (const answer of [["event: ready\n\n", "event: call.created\n\n"], new TypeError("network error")]) {
      const c = console_(server(answer));
      await c.stream.open();
      assert.equal(c.seen.at(-1), "retry");
      assert.equal(c.timers.length, 1);
    }
  });

  it("tells each event, a stream ended by `expired` earlier in it included, and decides on the last", async () => {
    const c = console_(server(["event: expired\n\n", "event: call.updated\n\n"]));
    await c.stream.open();
    assert.deepEqual(c.seen, ["live", "expired", "call.updated", "retry"]);
  });

  it("does not reconnect a refused stream (signing in again opens a new one)", async () => {
    const c = console_(server(401));
    await c.stream.open();
    assert.deepEqual(c.seen, ["refused 401"]);
    assert.equal(c.timers.length, 0);
  });

  it("stops for good when the user signs out", async () => {
    const c = console_(server("hang"));
    const reading = c.stream.open();
    await new Promise((go) => setTimeout(go, 10));
    c.stream.abort();
    await reading;
    assert.deepEqual(c.seen, ["live"]);
    assert.equal(c.timers.length, 0);
  });

  it("keeps one stream: a new one aborts the old, and only the newest reconnects", async () => {
    const fake = server("hang", ["event: ready\n\n"], ["event: ready\n\n"]);
    const c = console_(fake);
    const first = c.stream.open();
    await new Promise((go) => setTimeout(go, 10));
    await c.stream.open();  // signing in again: the first is aborted, the second ends and will reconnect
    await first;
    assert.deepEqual(c.seen, ["live", "live", "ready", "retry"]);
    await c.stream.open();  // opened again before the retry came: the retry is the older stream's
    const [retry] = c.timers;
    const before = fake.requests.length;
    await retry.run();
    assert.equal(fake.requests.length, before);
  });
});
