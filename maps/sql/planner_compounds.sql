-- Compounds of a region for the planner map: population, whether a service
-- circle reaches them (coverage.sql's rule) and whether a party branch covers
-- them (branch_compounds).
SELECT c.code, c.name, c.region_code, c.population, c.households,
       EXISTS (SELECT 1 FROM service_circles s
               JOIN service_points p ON p.code = s.point_code AND p.deleted_at IS NULL
               WHERE s.minutes = :minutes AND s.profile = :profile
                 AND ST_Intersects(s.geom, ST_PointOnSurface(c.geom))) AS covered,
       EXISTS (SELECT 1 FROM branch_compounds bc
               JOIN party_branches b ON b.code = bc.branch_code AND b.deleted_at IS NULL
               WHERE bc.compound_code = c.code) AS has_branch,
       ST_AsGeoJSON(ST_SimplifyPreserveTopology(c.geom, 0.00001), 6) AS geojson
FROM compounds c
WHERE c.deleted_at IS NULL AND starts_with(c.region_code, :code)
ORDER BY c.code
