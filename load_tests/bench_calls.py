"""Benchmark of the regulation endpoints: history import, call entry, queue and audited reads.

On a fresh database served on loopback: a CSV of 10 000 calls, then an NDJSON of the Indre's 2022
year (17 232 calls) imported in one request each, the same NDJSON again (nothing written), then
live calls entered one by one, the queue of the waiting calls and audited reads of one call.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time

import httpx

from app.auth.tokens import create_token
from app.platform.config import Settings
from load_tests.harness import SECRET, fresh_database, percentiles, record, served_app

CSV_ROWS = 10_000
INDRE_CALLS = 17_232
LIVE_CALLS = 500
READS = 300
MAX_SECONDS = 120  # per measured series
KINDS = ("advice", "slot", "advice|prescription", "other:no_answer", "prescription", "slot", "advice")
HEADER = "external_id,territory_code,channel,received_at,priority,intent_without_sas,first_callback_at,decisions"


def csv_file(count: int) -> bytes:
    start = dt.datetime(2021, 1, 1, 7, tzinfo=dt.UTC)
    lines = [HEADER]
    for i in range(count):
        received = start + dt.timedelta(minutes=30 * i)
        callback = received + dt.timedelta(minutes=5 + i % 90)
        lines.append(f"csv-{i},36,{'15' if i % 4 else '116117'},{received.isoformat()},P{1 + i % 3},"
                     f"{'urgences' if i % 5 == 0 else 'inconnu'},{callback.isoformat()},{KINDS[i % len(KINDS)]}")
    return ("\n".join(lines) + "\n").encode()


def ndjson_file(count: int) -> bytes:
    start = dt.datetime(2022, 1, 1, 0, 10, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    step = dt.timedelta(days=365) / count
    lines = []
    for i in range(count):
        received = start + step * i
        decisions: object = KINDS[i % len(KINDS)]
        if i % 9 == 0:
            decisions = [{"kind": "advice"}, {"kind": "prescription", "pharmacy_name": "Pharmacie du Centre"}]
        lines.append(json.dumps({
            "external_id": f"indre-2022-{i}", "territory_code": "36", "channel": "15",
            "received_at": received.isoformat(), "first_callback_at": (received + step / 3).isoformat(),
            "intent_without_sas": "urgences" if i % 6 == 0 else "medecin", "decisions": decisions,
        }))
    return ("\n".join(lines) + "\n").encode()


def timed_import(client: httpx.Client, body: bytes, content_type: str, headers: dict[str, str]) -> tuple[float, dict]:
    began = time.perf_counter()
    response = client.post("/v1/calls/import", content=body, headers={**headers, "Content-Type": content_type})
    elapsed = time.perf_counter() - began
    if response.status_code != 201:
        raise RuntimeError(f"import failed: {response.status_code} {response.text[:300]}")
    return elapsed, response.json()


def series(call: object, count: int) -> list[float]:
    samples: list[float] = []
    deadline = time.monotonic() + MAX_SECONDS
    for i in range(count):
        if time.monotonic() > deadline:
            break
        began = time.perf_counter()
        call(i)  # type: ignore[operator]
        samples.append((time.perf_counter() - began) * 1000)
    return samples


def fmt(p: dict[str, float]) -> str:
    return (f"p50 {p['p50']:.1f} ms, p95 {p['p95']:.1f} ms, p99 {p['p99']:.1f} ms, max {p['max']:.1f} ms "
            f"(n={p['n']:.0f})")


def main() -> None:
    settings = Settings(jwt_secret=SECRET)
    admin = {"Authorization": "Bearer " + create_token(settings, role="admin", sub="bench-admin")}
    operator = {"Authorization": "Bearer " + create_token(settings, role="operator", territories=["36"])}
    csv_body, ndjson_body = csv_file(CSV_ROWS), ndjson_file(INDRE_CALLS)
    with fresh_database() as server, served_app(server.url(), workers=1) as base, \
            httpx.Client(base_url=base, timeout=120) as client:
        csv_s, csv_result = timed_import(client, csv_body, "text/csv", admin)
        nd_s, nd_result = timed_import(client, ndjson_body, "application/x-ndjson", admin)
        again_s, again_result = timed_import(client, ndjson_body, "application/x-ndjson", admin)
        ids: list[str] = []

        def enter(i: int) -> None:
            body = {"territory_code": "36", "channel": "15", "priority": f"P{1 + i % 3}",
                    "patient": {"family_name": "Bench", "phone": "0254000000", "birth_year": 1970}}
            response = client.post("/v1/calls", json=body, headers=operator)
            ids.append(response.raise_for_status().json()["id"])

        create_ms = series(enter, LIVE_CALLS)
        queue_ms = series(lambda i: client.get("/v1/calls?territory=36&status=waiting&limit=100",
                                               headers=operator).raise_for_status(), READS)
        read_ms = series(lambda i: client.get(f"/v1/calls/{ids[i % len(ids)]}",
                                              headers=operator).raise_for_status(), READS)
    record(
        "Regulation: history import, call entry, queue, audited reads",
        "python -m load_tests.bench_calls",
        [
            f"- import CSV {CSV_ROWS} rows in one request: {csv_s:.2f} s ({csv_result})",
            f"- import NDJSON {INDRE_CALLS} rows (the Indre 2022): {nd_s:.2f} s ({nd_result})",
            f"- same NDJSON again (nothing written): {again_s:.2f} s ({again_result})",
            f"- POST /v1/calls one by one: {fmt(percentiles(create_ms))}",
            f"- GET /v1/calls?status=waiting (queue of {len(ids)} waiting, 100 shown, over "
            f"{CSV_ROWS + INDRE_CALLS + len(ids)} calls): {fmt(percentiles(queue_ms))}",
            f"- GET /v1/calls/{{id}} (audited read): {fmt(percentiles(read_ms))}",
        ],
    )


if __name__ == "__main__":
    sys.exit(main())
