-- Basemap labels: anchors on the whole (unclipped) geometries, so that every
-- tile places a label at the same spot. rank: lower is placed first; within a
-- rank, lower prio first (longer streets first). Street names sit at the middle
-- of a named edge, turned along it (angle: degrees anticlockwise from east on
-- the Web Mercator map), with the edge's length on that map (span, metres).
SELECT * FROM (
  SELECT 'town' AS what, r.name, 0 AS rank, r.id AS fid,
         ST_X(ST_PointOnSurface(r.geom)) AS lng, ST_Y(ST_PointOnSurface(r.geom)) AS lat,
         0.0 AS prio, NULL::float8 AS angle, NULL::float8 AS span
  FROM regions r
  WHERE r.level = 'town' AND r.geom IS NOT NULL AND :z < 13
    AND r.geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)
  UNION ALL
  SELECT 'village', r.name, 1, r.id,
         ST_X(ST_PointOnSurface(r.geom)), ST_Y(ST_PointOnSurface(r.geom)), 0.0, NULL, NULL
  FROM regions r
  WHERE r.level = 'village' AND r.geom IS NOT NULL AND :z >= 12 AND :z < 17
    AND r.geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)
  UNION ALL
  SELECT 'water',
         CASE WHEN strpos(coalesce(w.name, ''), ':') > 0
              THEN split_part(w.name, ':', 2) ELSE w.name END, 2, w.id,
         ST_X(ST_PointOnSurface(w.geom)), ST_Y(ST_PointOnSurface(w.geom)), 0.0, NULL, NULL
  FROM water_areas w
  WHERE w.name IS NOT NULL AND :z >= 12
    AND w.geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)
  UNION ALL
  SELECT 'compound', c.name, 3, c.id,
         ST_X(ST_PointOnSurface(c.geom)), ST_Y(ST_PointOnSurface(c.geom)), 0.0, NULL, NULL
  FROM compounds c
  WHERE c.deleted_at IS NULL AND :z >= 16
    AND c.geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)
  UNION ALL
  SELECT 'street', e.name, 4, e.id, ST_X(m.mid), ST_Y(m.mid), -e.length_m,
         degrees(atan2(ST_Y(m.b) - ST_Y(m.a), ST_X(m.b) - ST_X(m.a))), ST_Length(m.g)
  FROM network_edges e
  CROSS JOIN LATERAL (SELECT ST_Transform(e.geom, 3857) AS g) t
  CROSS JOIN LATERAL (SELECT ST_LineInterpolatePoint(e.geom, 0.5) AS mid,
                             ST_LineInterpolatePoint(t.g, 0.4) AS a,
                             ST_LineInterpolatePoint(t.g, 0.6) AS b, t.g) m
  WHERE e.name IS NOT NULL AND e.name <> '' AND :z >= 15 AND e.length_m >= 40
    AND e.geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)
) l
ORDER BY rank, prio, fid
