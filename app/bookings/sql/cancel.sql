-- cancel: rendered from app/bookings/repository.py by `snp bookings render-sql`; do not edit.
-- Parameters are :names (psql: \set name value).
WITH cancelled AS (
    UPDATE bookings SET status = 'cancelled', cancelled_at = now(), cancelled_by = :sub,
                        cancel_reason = :cancel_reason
    WHERE id = :booking_id AND status = 'active' AND outcome IS NULL
    RETURNING id, slot_id, call_id
), freed AS (
    UPDATE slots s SET status = CASE WHEN s.over_capacity THEN 'withdrawn' ELSE 'free' END,
                       withdrawn_at = CASE WHEN s.over_capacity THEN now() END
    FROM cancelled
    WHERE s.id = cancelled.slot_id AND s.status = 'booked' AND (s.over_capacity OR s.start_at > now())
    RETURNING s.id
), revoked AS (
    UPDATE decisions d SET revoked_at = now(), revoked_by = :sub, revoked_reason = :cancel_reason
    FROM cancelled WHERE d.booking_id = cancelled.id AND d.revoked_at IS NULL
    RETURNING d.id
), reoriented AS (
    UPDATE calls c SET status = 'to_reorient', closed_at = NULL, reorient_at = now(),
           reorient_by = :sub, reorient_by_role = :role, reorient_reason = :cancel_reason,
           reorient_booking_id = cancelled.id
    FROM cancelled
    WHERE c.id = cancelled.call_id AND c.purged_at IS NULL
      AND NOT EXISTS (SELECT 1 FROM bookings o
                      WHERE o.call_id = c.id AND o.status = 'active' AND o.id <> cancelled.id)
    RETURNING c.id, c.territory_code, cancelled.id AS booking_id
)
SELECT c.id, (SELECT count(*) FROM freed) AS freed, (SELECT count(*) FROM revoked) AS revoked,
       (SELECT count(*) FROM reoriented) AS reoriented
FROM cancelled c;
