-- book_call: rendered from app/bookings/repository.py by `snp bookings render-sql`; do not edit.
-- Parameters are :names (psql: \set name value).
WITH scope AS (
    SELECT code FROM territories
    WHERE CAST(:everywhere AS boolean) OR code = ANY(CAST(:codes AS text[]))
       OR parent_code = ANY(CAST(:codes AS text[]))
), open_call AS (
    SELECT id, channel, reason, patient_given_name, patient_family_name, patient_birth_year, patient_sex,
           patient_phone, patient_address
    FROM calls WHERE id = :call_id AND status <> 'closed' AND territory_code IN (SELECT code FROM scope)
    FOR NO KEY UPDATE
), claimed AS (
    UPDATE slots s SET status = 'booked', held_by_call_id = NULL, held_until = NULL
    WHERE s.id = :slot_id AND s.kind = 'snp' AND s.status = 'free' AND s.start_at > now() AND (s.held_until IS NULL OR s.held_until <= now() OR s.held_by_call_id = :call_id) AND (s.bookable_by & CAST(:bookers AS smallint) <> 0 OR (s.bookable_by & 8 <> 0 AND s.territory_code = ANY(CAST(:member_of AS text[]))) OR s.start_at - s.release_before <= now())
      AND s.territory_code IN (SELECT code FROM scope) AND EXISTS (SELECT 1 FROM open_call)
    RETURNING id, territory_code, practitioner_id, site_id, start_at, end_at, mode, over_capacity
), the_call AS (
    SELECT * FROM open_call
), b AS (
    INSERT INTO bookings (slot_id, call_id, created_by, also)
    SELECT claimed.id, the_call.id, :sub, CAST(:also AS boolean) FROM claimed CROSS JOIN the_call
    RETURNING id, slot_id, call_id, status, created_by, created_at, cancelled_at
), decision AS (
    INSERT INTO decisions (call_id, kind, booking_id, decided_at, created_by)
    SELECT b.call_id, 'slot', b.id, now(), :sub FROM b
), in_progress AS (
    UPDATE calls SET status = 'in_progress'
    WHERE id IN (SELECT call_id FROM b) AND status IN ('waiting', 'to_reorient')
), event AS (
    -- the effector's events, in the order things happened: a replaced booking's cancellation first
    INSERT INTO outbox_events (practitioner_id, kind, payload) SELECT e.practitioner_id, e.kind, e.payload FROM (SELECT 0 AS n, s.practitioner_id, :kind AS kind, jsonb_build_object(
        'booking_id', b.id, 'status', b.status, 'slot_id', s.id, 'start', s.start_at, 'end', s.end_at,
        'mode', s.mode, 'territory_code', s.territory_code,
        'site', jsonb_build_object('id', si.id, 'name', si.name, 'address', si.address, 'postcode', si.postcode),
        'call', jsonb_build_object('channel', c.channel, 'reason', c.reason),
        'patient', jsonb_strip_nulls(jsonb_build_object(
            'birth_year', c.patient_birth_year, 'sex', c.patient_sex,
            'age', CAST(EXTRACT(year FROM now()) AS integer) - c.patient_birth_year,
            'family_name', c.patient_family_name, 'given_name', c.patient_given_name,
            'address', c.patient_address, 'phone', c.patient_phone)),
        'booked_at', b.created_at, 'cancelled_at', b.cancelled_at) AS payload FROM b JOIN claimed s ON s.id = b.slot_id JOIN sites si ON si.id = s.site_id
        JOIN the_call c ON c.id = b.call_id) e ORDER BY e.n
), answer AS (
    SELECT b.id, json_build_object(
        'id', b.id, 'kind', CASE WHEN s.over_capacity THEN 'over_capacity' ELSE 'slot' END, 'slot_id', b.slot_id,
        'call_id', b.call_id, 'status', b.status, 'created_by', b.created_by,
        'created_at', (to_char((b.created_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD"T"HH24:MI:SS') || CASE WHEN CAST(date_part('microseconds', (b.created_at AT TIME ZONE 'UTC')) AS bigint) % 1000000 = 0 THEN '' ELSE to_char((b.created_at AT TIME ZONE 'UTC'), '.US') END || 'Z'), 'cancelled_at', NULL, 'cancel_reason', NULL, 'outcome', NULL,
        'outcome_note', NULL, 'outcome_at', NULL, 'report', NULL,
        'slot', json_build_object(
            'id', s.id, 'start', (to_char((s.start_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD"T"HH24:MI:SS') || CASE WHEN CAST(date_part('microseconds', (s.start_at AT TIME ZONE 'UTC')) AS bigint) % 1000000 = 0 THEN '' ELSE to_char((s.start_at AT TIME ZONE 'UTC'), '.US') END || 'Z'), 'end', (to_char((s.end_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD"T"HH24:MI:SS') || CASE WHEN CAST(date_part('microseconds', (s.end_at AT TIME ZONE 'UTC')) AS bigint) % 1000000 = 0 THEN '' ELSE to_char((s.end_at AT TIME ZONE 'UTC'), '.US') END || 'Z'), 'mode', s.mode,
            'territory_code', s.territory_code, 'practitioner_id', s.practitioner_id, 'site_id', s.site_id)) AS body FROM b JOIN claimed s ON s.id = b.slot_id
), k AS (
    INSERT INTO idempotency_keys (principal_sub, key, request_hash, status_code, response)
    SELECT :sub, CAST(:key AS text), :hash, 201, CAST(body AS jsonb) FROM answer
    WHERE CAST(:key AS text) IS NOT NULL
)
SELECT id, CAST(body AS text) AS body FROM answer;
