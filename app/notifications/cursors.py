"""Readers of the transactional outbox that go through it in commit order, each under a cursor of its own
(the national-platform declarer, app/fhir/declare.py; the Hub Santé publisher, app/hub/publisher.py).

Events are read in the order their transactions became final — by transaction id up to the oldest one
still running (``pg_snapshot_xmin``), then by sequence — so an event that commits late is never skipped,
and the events of one appointment come in the order they happened. A cursor starts where the outbox
stands when the reader first runs, and moves only past what its reader settled."""

from __future__ import annotations

from sqlalchemy import text

START = text("""INSERT INTO declaration_cursors (name, xid, seq)
                VALUES (:name, pg_snapshot_xmin(pg_current_snapshot()), 0) ON CONFLICT (name) DO NOTHING""")
# The appointment events after the cursor ``:name``, final ones only, ``:limit`` of them.
READY = text("""
    SELECT e.id, e.xid, e.seq, e.kind, CAST(e.payload->>'booking_id' AS uuid) AS booking_id
    FROM outbox_events e, declaration_cursors c
    WHERE c.name = :name AND (e.xid, e.seq) > (c.xid, c.seq)
      AND e.xid < pg_snapshot_xmin(pg_current_snapshot())
      AND e.kind IN ('booking.created', 'booking.cancelled', 'booking.outcome')
    ORDER BY e.xid, e.seq
    LIMIT :limit""")
MOVE = text("UPDATE declaration_cursors SET xid = :xid, seq = :seq, updated_at = now() WHERE name = :name")
