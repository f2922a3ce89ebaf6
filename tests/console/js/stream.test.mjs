// The live stream's reading and reconnection, with a fake server and a fake clock: after `expired` or
// `replaced` the console stays offline; after any other end, a network failure or a silence it
// reconnects, later each time, naming the last event it saw.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  FINAL_ENDS, MAX_RETRY_MS, RETRY_MS, SILENCE_MS, liveStream, readEvents, retryDelay, splitEvents,
} from "../../../app/console/static/stream.js";

function body(...chunks) {
  const encoder = new TextEncoder();
  return new ReadableStream({ start(controller) { for (const c of chunks) controller.enqueue(encoder.encode(c)); controller.close(); } });
}

// A server that answers each connection with the next of `answers`: a list of chunks, a status, an
// error to throw, or "hang" (a stream that stays open until the console aborts it).
function server(...answers) {
  const requests = [];
  async function fetch(url, init) {
    requests.push({ url, authorization: init.headers.Authorization, lastEventId: init.headers["Last-Event-ID"] });
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

// The fake clock: `timers` are the reconnections waiting, `watchdogs` the silence timers running.
function console_(fake, token = "t1") {
  const seen = [], pending = new Map();
  let next = 0;
  const stream = liveStream({
    url: "/v1/stream", token: () => token,
    onLive: () => seen.push("live"), onRefused: (status) => seen.push(`refused ${status}`),
    onEvent: (name) => seen.push(name), onEnd: (name) => seen.push(`end ${name}`), onRetry: () => seen.push("retry"),
    fetch: fake.fetch,
    later: (run, ms) => {
      const id = ++next;
      pending.set(id, { run: () => { pending.delete(id); return run(); }, ms });
      return id;
    },
    cancel: (id) => pending.delete(id),
  });
  const timers = () => [...pending.values()].filter((t) => t.ms !== SILENCE_MS);
  const watchdogs = () => [...pending.values()].filter((t) => t.ms === SILENCE_MS);
  return { stream, seen, get timers() { return timers(); }, watchdogs, setToken: (t) => { token = t; } };
}

describe("reading Server-Sent Events", () => {
  it("names each whole event, ignores the keep-alive comment and keeps a partial one for later", () => {
    assert.deepEqual(splitEvents("event: ready\ndata: {}\n\n: keep-alive\n\nid: w-7\nevent:call.created\ndata: {}\n\nevent: call.upd"),
      { events: [{ name: "ready", id: null, data: {} }, { name: "call.created", id: "w-7", data: {} }],
        rest: "event: call.upd" });
  });

  it("reads each event's JSON data, on one line or several, and survives data that is not JSON", () => {
    const { events } = splitEvents('event: call.updated\ndata: {"call_id": "c1",\ndata:  "assigned_name": "Dr B"}\n\nevent: x\ndata: {oops\n\n');
    assert.deepEqual(events.map((e) => e.data), [{ call_id: "c1", assigned_name: "Dr B" }, null]);
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
    assert.deepEqual(fake.requests, [{ url: "/v1/stream", authorization: "Bearer secret", lastEventId: undefined }]);
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
      assert.equal(c.watchdogs().length, 0, "a stream that ended watches nothing");
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

  it("names the last event it saw when it reconnects, and forgets it for a new session", async () => {
    const fake = server(["event: ready\n\n", "id: w-4\nevent: call.created\n\n", "id: w-5\nevent: call.updated\n\n"],
      ["event: ready\n\n"], ["event: ready\n\n"]);
    const c = console_(fake);
    await c.stream.open();
    await c.timers[0].run();
    assert.deepEqual(fake.requests.map((r) => r.lastEventId), [undefined, "w-5"]);
    c.stream.forget();
    await c.stream.open();
    assert.equal(fake.requests.at(-1).lastEventId, undefined);
  });

  it("waits longer after each failed attempt, up to a bound, and starts again once accepted", async () => {
    assert.deepEqual([0, 1, 2, 3, 4, 9].map(retryDelay), [1000, 2000, 4000, MAX_RETRY_MS, MAX_RETRY_MS, MAX_RETRY_MS]);
    const down = new TypeError("network error");
    const fake = server(down, down, down, down, ["event: ready\n\n"]);
    const c = console_(fake);
    await c.stream.open();
    const delays = [];
    for (let i = 0; i < 4; i++) {
      const [retry] = c.timers;
      delays.push(retry.ms);
      await retry.run();
    }
    assert.deepEqual(delays, [1000, 2000, 4000, 5000]);
    assert.deepEqual(c.seen, ["retry", "retry", "retry", "retry", "live", "ready", "retry"]);
    assert.equal(c.timers[0].ms, 1000, "the accepted stream set the count back");
  });

  it("treats a stream silent for 30 s as broken: it aborts it and reconnects", async () => {
    const fake = server("hang", ["event: ready\n\n"]);
    const c = console_(fake);
    const reading = c.stream.open();
    await new Promise((go) => setTimeout(go, 10));
    const [watchdog] = c.watchdogs();
    assert.equal(watchdog.ms, SILENCE_MS);
    watchdog.run();  // 30 s without a line, not even the keep-alive comment
    await reading;
    assert.deepEqual(c.seen, ["live", "retry"]);
    await c.timers[0].run();
    assert.equal(fake.requests.length, 2);
  });

  it("counts every chunk, the keep-alive comment included, as a sign of life", async () => {
    const c = console_(server([": ping\n\n", ": ping\n\n"]));
    await c.stream.open();
    assert.deepEqual(c.seen, ["live", "retry"]);
    assert.equal(c.watchdogs().length, 0);
  });
});
