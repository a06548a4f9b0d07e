-- Stored service circles of one walking budget (minutes, profile), WGS-84.
SELECT c.id AS fid, c.point_code, p.name AS point_name, p.kind, c.minutes, c.profile,
       c.budget_m, c.method, c.geom
FROM service_circles c
JOIN service_points p ON p.code = c.point_code AND p.deleted_at IS NULL
WHERE c.minutes = :minutes AND c.profile = :profile
  AND c.geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)
