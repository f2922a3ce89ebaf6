-- move: rendered from app/bookings/repository.py by `snp bookings render-sql`; do not edit.
-- Parameters are :names (psql: \set name value).
WITH origin AS (
    SELECT b.id, b.slot_id, b.call_id, o.practitioner_id FROM bookings b JOIN slots o ON o.id = b.slot_id
    WHERE b.id = :booking_id AND b.slot_id = :from_slot_id AND b.status = 'active' AND b.outcome IS NULL
), claimed AS (
    UPDATE slots s SET status = 'booked', held_by_call_id = NULL, held_until = NULL
    FROM origin
    WHERE s.id = :slot_id AND s.id <> origin.slot_id AND s.practitioner_id = origin.practitioner_id
      AND NOT s.over_capacity AND s.kind = 'snp' AND s.status = 'free' AND s.start_at > now() AND (s.held_until IS NULL OR s.held_until <= now() OR s.held_by_call_id = :call_id) AND (s.bookable_by & CAST(:bookers AS smallint) <> 0 OR (s.bookable_by & 8 <> 0 AND s.territory_code = ANY(CAST(:member_of AS text[]))) OR s.start_at - s.release_before <= now())
    RETURNING s.id, s.territory_code, s.practitioner_id, s.site_id, s.start_at, s.end_at, s.mode
), moved AS (
    UPDATE bookings m SET slot_id = claimed.id
    FROM claimed, origin
    WHERE m.id = origin.id AND m.slot_id = origin.slot_id AND m.status = 'active' AND m.outcome IS NULL
    RETURNING m.id, m.slot_id, m.call_id, m.status, m.created_at, m.cancelled_at, origin.slot_id AS from_slot_id
), freed AS (
    UPDATE slots s SET status = 'free'
    FROM moved
    WHERE s.id = moved.from_slot_id AND s.status = 'booked' AND NOT s.over_capacity AND s.start_at > now()
    RETURNING s.id
), event AS (
    INSERT INTO outbox_events (practitioner_id, kind, payload) SELECT e.practitioner_id, e.kind, e.payload FROM (SELECT 0 AS n, s.practitioner_id, 'booking.cancelled' AS kind, jsonb_build_object(
        'booking_id', b.id, 'status', b.status, 'slot_id', s.id, 'start', s.start_at, 'end', s.end_at,
        'mode', s.mode, 'territory_code', s.territory_code,
        'site', jsonb_build_object('id', si.id, 'name', si.name, 'address', si.address, 'postcode', si.postcode),
        'call', jsonb_build_object('channel', c.channel, 'reason', c.reason),
        'patient', jsonb_strip_nulls(jsonb_build_object(
            'birth_year', c.patient_birth_year, 'sex', c.patient_sex,
            'age', CAST(EXTRACT(year FROM now()) AS integer) - c.patient_birth_year,
            'family_name', c.patient_family_name, 'given_name', c.patient_given_name,
            'address', c.patient_address, 'phone', c.patient_phone)),
        'booked_at', b.created_at, 'cancelled_at', b.cancelled_at) AS payload FROM (SELECT id, 'cancelled' AS status, created_at, now() AS cancelled_at,
              call_id, from_slot_id FROM moved) b
        JOIN slots s ON s.id = b.from_slot_id JOIN sites si ON si.id = s.site_id
        JOIN calls c ON c.id = b.call_id UNION ALL SELECT 1 AS n, s.practitioner_id, 'booking.created' AS kind, jsonb_build_object(
        'booking_id', b.id, 'status', b.status, 'slot_id', s.id, 'start', s.start_at, 'end', s.end_at,
        'mode', s.mode, 'territory_code', s.territory_code,
        'site', jsonb_build_object('id', si.id, 'name', si.name, 'address', si.address, 'postcode', si.postcode),
        'call', jsonb_build_object('channel', c.channel, 'reason', c.reason),
        'patient', jsonb_strip_nulls(jsonb_build_object(
            'birth_year', c.patient_birth_year, 'sex', c.patient_sex,
            'age', CAST(EXTRACT(year FROM now()) AS integer) - c.patient_birth_year,
            'family_name', c.patient_family_name, 'given_name', c.patient_given_name,
            'address', c.patient_address, 'phone', c.patient_phone)),
        'booked_at', b.created_at, 'cancelled_at', b.cancelled_at) AS payload FROM moved b JOIN claimed s ON s.id = b.slot_id
        JOIN sites si ON si.id = s.site_id JOIN calls c ON c.id = b.call_id) e ORDER BY e.n
)
SELECT m.id, m.slot_id, m.from_slot_id, (SELECT count(*) FROM freed) AS freed FROM moved m;
