-- Service points (public attributes only), WGS-84.
SELECT p.id AS fid, p.code, p.name, p.kind, p.region_code,
       array_to_string(p.services, ',') AS services, p.synthetic, p.geom
FROM service_points p
WHERE p.deleted_at IS NULL
  AND p.geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)
