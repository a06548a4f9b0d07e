-- Walkable ways of the walking network; minor ways only from zoom 14.
SELECT e.id AS fid, coalesce(e.highway, 'path') AS highway, e.geom
FROM network_edges e
WHERE e.geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)
  AND (:z >= 14 OR e.highway IN ('primary', 'secondary', 'tertiary')
       OR (:z >= 13 AND e.highway = 'residential'))
