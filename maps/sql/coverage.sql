-- Compounds with whether a stored service circle of the budget (minutes, profile)
-- reaches them: a compound counts as reached when a circle contains its
-- representative point (ST_PointOnSurface).
SELECT c.id AS fid, c.code, c.name, c.region_code, c.population, c.households,
       EXISTS (SELECT 1 FROM service_circles s
               JOIN service_points p ON p.code = s.point_code AND p.deleted_at IS NULL
               WHERE s.minutes = :minutes AND s.profile = :profile
                 AND ST_Intersects(s.geom, ST_PointOnSurface(c.geom))) AS covered,
       c.geom
FROM compounds c
WHERE c.deleted_at IS NULL
  AND c.geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)
