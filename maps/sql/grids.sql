-- Grid cells (网格): counts only; workers' names and phones stay private.
SELECT g.id AS fid, g.code, g.name, g.kind, g.region_code, g.workers, g.has_branch,
       g.synthetic, g.geom
FROM grid_cells g
WHERE g.deleted_at IS NULL
  AND g.geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)
