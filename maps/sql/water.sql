-- Rivers and lakes; sample names carry a "<sample>:" prefix that is not shown.
SELECT w.id AS fid,
       CASE WHEN strpos(coalesce(w.name, ''), ':') > 0
            THEN split_part(w.name, ':', 2) ELSE w.name END AS name,
       w.geom
FROM water_areas w
WHERE w.geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)
