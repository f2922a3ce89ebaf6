-- refusal: rendered from app/bookings/repository.py by `snp bookings render-sql`; do not edit.
-- Parameters are :names (psql: \set name value).
   WITH scope AS (
       SELECT code FROM territories
       WHERE CAST(:everywhere AS boolean) OR code = ANY(CAST(:codes AS text[]))
          OR parent_code = ANY(CAST(:codes AS text[]))
   )
   SELECT k.request_hash, k.response,
          CAST(:call_id AS uuid) IS NULL
              OR (c.id IS NOT NULL AND c.territory_code IN (SELECT code FROM scope)) AS call_visible,
          c.status AS call_status,
          s.id IS NOT NULL AND s.territory_code IN (SELECT code FROM scope) AS slot_visible,
          coalesce((s.bookable_by & CAST(:bookers AS smallint) <> 0 OR (s.bookable_by & 8 <> 0 AND s.territory_code = ANY(CAST(:member_of AS text[]))) OR s.start_at - s.release_before <= now()), false) AS bookable, coalesce(s.kind = 'snp' AND s.status = 'free' AND s.start_at > now() AND (s.held_until IS NULL OR s.held_until <= now() OR s.held_by_call_id = :call_id) AND (s.bookable_by & CAST(:bookers AS smallint) <> 0 OR (s.bookable_by & 8 <> 0 AND s.territory_code = ANY(CAST(:member_of AS text[]))) OR s.start_at - s.release_before <= now()), false) AS claimable,

   CASE WHEN s.status = 'withdrawn' THEN 'withdrawn'
        WHEN s.status = 'booked' THEN 'booked'
        WHEN s.held_until > now() THEN 'held'
        WHEN s.start_at <= now() THEN 'past'
        ELSE 'free' END
AS state
   FROM (SELECT 1) AS one
   LEFT JOIN idempotency_keys k ON k.principal_sub = :sub AND k.key = CAST(:key AS text)
   LEFT JOIN calls c ON c.id = :call_id
   LEFT JOIN slots s ON s.id = :slot_id;
