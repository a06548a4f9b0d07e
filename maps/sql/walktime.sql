-- Walking time (步行时间) per H3 cell. Not a table: the application computes
-- the walk from every cell of a town to its nearest position
-- (geo.coverage.access) and binds the cells near the tile as arrays:
-- :wkb (WKB polygons, WGS-84), :minutes (NULL: no position reachable),
-- :band (the legend's label) and :region_code (the town).
SELECT u.ord::integer AS fid, u.minutes, u.band, u.region_code,
       ST_GeomFromWKB(u.wkb, 4326) AS geom
FROM unnest(CAST(:wkb AS bytea[]), CAST(:minutes AS float8[]), CAST(:band AS text[]),
            CAST(:region_code AS text[]))
     WITH ORDINALITY AS u(wkb, minutes, band, region_code, ord)
WHERE ST_GeomFromWKB(u.wkb, 4326) && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)
