-- Coverage per village and per grid cell of a region, for the planner map's
-- choropleth: population (and compounds) whose compound a stored service
-- circle of the budget reaches (same rule as coverage.sql: the compound's
-- ST_PointOnSurface lies in a circle).
WITH comp AS (
  SELECT c.code, c.region_code, c.population, ST_PointOnSurface(c.geom) AS pt,
         EXISTS (SELECT 1 FROM service_circles s
                 JOIN service_points p ON p.code = s.point_code AND p.deleted_at IS NULL
                 WHERE s.minutes = :minutes AND s.profile = :profile
                   AND ST_Intersects(s.geom, ST_PointOnSurface(c.geom))) AS covered
  FROM compounds c
  WHERE c.deleted_at IS NULL AND starts_with(c.region_code, :code)
)
SELECT 'village' AS area, r.code, r.name,
       ST_AsGeoJSON(ST_SimplifyPreserveTopology(r.geom, 0.00005), 6) AS geojson,
       count(comp.code) AS compounds, count(comp.code) FILTER (WHERE comp.covered) AS covered_compounds,
       coalesce(sum(comp.population), 0) AS population,
       coalesce(sum(comp.population) FILTER (WHERE comp.covered), 0) AS covered_population
FROM regions r
LEFT JOIN comp ON comp.region_code = r.code
WHERE r.level = 'village' AND starts_with(r.code, :code) AND r.geom IS NOT NULL
GROUP BY r.code, r.name, r.geom
UNION ALL
SELECT 'grid', g.code, g.name,
       ST_AsGeoJSON(ST_SimplifyPreserveTopology(g.geom, 0.00005), 6),
       count(comp.code), count(comp.code) FILTER (WHERE comp.covered),
       coalesce(sum(comp.population), 0),
       coalesce(sum(comp.population) FILTER (WHERE comp.covered), 0)
FROM grid_cells g
LEFT JOIN comp ON ST_Intersects(g.geom, comp.pt)
WHERE g.deleted_at IS NULL AND starts_with(g.region_code, :code)
GROUP BY g.code, g.name, g.geom
ORDER BY 1, 2
