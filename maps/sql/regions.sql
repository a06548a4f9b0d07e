-- Administrative divisions with a boundary (towns/streets and villages/communities).
SELECT r.id AS fid, r.code, r.name, r.level, r.parent_code, r.synthetic, r.geom
FROM regions r
WHERE r.geom IS NOT NULL
  AND r.geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)
