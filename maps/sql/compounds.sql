-- Residential compounds (住宅小区) with whether a party branch covers them.
SELECT c.id AS fid, c.code, c.name, c.region_code, c.households, c.population,
       EXISTS (SELECT 1 FROM branch_compounds bc
               JOIN party_branches b ON b.code = bc.branch_code AND b.deleted_at IS NULL
               WHERE bc.compound_code = c.code) AS has_branch,
       c.synthetic, c.geom
FROM compounds c
WHERE c.deleted_at IS NULL
  AND c.geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)
