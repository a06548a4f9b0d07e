-- Public facilities of the OSM extract (a reference layer), WGS-84. The labels
-- are geo.vocab.FACILITY_KINDS_ZH (a test checks they agree).
SELECT f.id AS fid, f.name, f.kind,
       CASE f.kind
            WHEN 'community' THEN '社区中心'
            WHEN 'elder_care' THEN '养老服务'
            WHEN 'social' THEN '社会福利'
            WHEN 'school' THEN '学校幼儿园'
            WHEN 'health' THEN '医疗卫生'
            WHEN 'library' THEN '图书馆'
            WHEN 'market' THEN '市场超市'
            ELSE f.kind END AS kind_zh,
       f.tag, f.geom
FROM facilities f
WHERE f.geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)
