-- Basemap labels: anchors on the whole (unclipped) geometries, so that every
-- tile places a label at the same spot. rank: lower is placed first.
SELECT * FROM (
  SELECT 'town' AS what, r.name, 0 AS rank, r.id AS fid,
         ST_X(ST_PointOnSurface(r.geom)) AS lng, ST_Y(ST_PointOnSurface(r.geom)) AS lat
  FROM regions r
  WHERE r.level = 'town' AND r.geom IS NOT NULL AND :z < 13
    AND r.geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)
  UNION ALL
  SELECT 'village', r.name, 1, r.id,
         ST_X(ST_PointOnSurface(r.geom)), ST_Y(ST_PointOnSurface(r.geom))
  FROM regions r
  WHERE r.level = 'village' AND r.geom IS NOT NULL AND :z >= 12 AND :z < 17
    AND r.geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)
  UNION ALL
  SELECT 'water',
         CASE WHEN strpos(coalesce(w.name, ''), ':') > 0
              THEN split_part(w.name, ':', 2) ELSE w.name END, 2, w.id,
         ST_X(ST_PointOnSurface(w.geom)), ST_Y(ST_PointOnSurface(w.geom))
  FROM water_areas w
  WHERE w.name IS NOT NULL AND :z >= 12
    AND w.geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)
  UNION ALL
  SELECT 'compound', c.name, 3, c.id,
         ST_X(ST_PointOnSurface(c.geom)), ST_Y(ST_PointOnSurface(c.geom))
  FROM compounds c
  WHERE c.deleted_at IS NULL AND :z >= 16
    AND c.geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)
) l
ORDER BY rank, fid
