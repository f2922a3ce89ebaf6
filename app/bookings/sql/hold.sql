-- hold: rendered from app/bookings/repository.py by `snp bookings render-sql`; do not edit.
-- Parameters are :names (psql: \set name value).
WITH scope AS (
    SELECT code FROM territories
    WHERE CAST(:everywhere AS boolean) OR code = ANY(CAST(:codes AS text[]))
       OR parent_code = ANY(CAST(:codes AS text[]))
), open_call AS (
    SELECT c.id FROM calls c
    WHERE c.id = :call_id AND c.status <> 'closed' AND c.territory_code IN (SELECT code FROM scope)
)
UPDATE slots s SET held_by_call_id = :call_id, held_until = now() + make_interval(mins => :minutes)
WHERE s.id = :slot_id AND s.kind = 'snp' AND s.status = 'free' AND s.start_at > now() AND (s.held_until IS NULL OR s.held_until <= now() OR s.held_by_call_id = :call_id) AND (s.bookable_by & CAST(:bookers AS smallint) <> 0 OR (s.bookable_by & 8 <> 0 AND s.territory_code = ANY(CAST(:member_of AS text[]))) OR s.start_at - s.release_before <= now())
  AND s.territory_code IN (SELECT code FROM scope) AND EXISTS (SELECT 1 FROM open_call)
RETURNING s.id AS slot_id, s.held_by_call_id AS call_id, s.held_until;
