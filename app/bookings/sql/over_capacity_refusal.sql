-- over_capacity_refusal: rendered from app/bookings/repository.py by `snp bookings render-sql`; do not edit.
-- Parameters are :names (psql: \set name value).
WITH scope AS (
    SELECT code FROM territories
    WHERE CAST(:everywhere AS boolean) OR code = ANY(CAST(:codes AS text[]))
       OR parent_code = ANY(CAST(:codes AS text[]))
)
SELECT k.request_hash, k.response,
       c.id IS NOT NULL AND c.territory_code IN (SELECT code FROM scope) AS call_visible,
       c.status AS call_status, p.id IS NOT NULL AS practitioner_known, p.accepts_over_capacity,
       si.id IS NOT NULL AND si.territory_code IN (SELECT code FROM scope) AS site_visible,
       coalesce(p.accepts_over_capacity AND si.territory_code IN (SELECT code FROM scope)
      AND EXISTS (SELECT 1 FROM practitioner_territories pt
                  WHERE pt.practitioner_id = p.id AND pt.territory_code IN (si.territory_code, t.parent_code)), false) AS serves, coalesce(EXISTS (SELECT 1 FROM practitioner_sites ps WHERE ps.practitioner_id = p.id AND ps.site_id = si.id), false) AS own_site
FROM (SELECT 1) AS one
LEFT JOIN idempotency_keys k ON k.principal_sub = :sub AND k.key = CAST(:key AS text)
LEFT JOIN calls c ON c.id = :call_id
LEFT JOIN practitioners p ON p.id = :practitioner_id
LEFT JOIN sites si ON si.id = :site_id
LEFT JOIN territories t ON t.code = si.territory_code;
