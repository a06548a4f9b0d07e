-- Places a resident may name as "my place" on the resident map when the
-- browser cannot locate them (no HTTPS, permission refused): residential
-- compounds and villages/communities of the region, a representative point
-- each (public names only).
SELECT 'compound' AS what, c.name, ST_X(p.geom) AS lng, ST_Y(p.geom) AS lat
FROM compounds c, LATERAL (SELECT ST_PointOnSurface(c.geom) AS geom) p
WHERE c.deleted_at IS NULL AND c.name IS NOT NULL AND starts_with(c.region_code, :code)
UNION ALL
SELECT 'village', r.name, ST_X(p.geom), ST_Y(p.geom)
FROM regions r, LATERAL (SELECT ST_PointOnSurface(r.geom) AS geom) p
WHERE r.level = 'village' AND r.geom IS NOT NULL AND starts_with(r.code, :code)
ORDER BY 1, 2
