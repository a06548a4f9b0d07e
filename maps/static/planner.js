/* ServiceMap 党群服务规划图 — planner map: circles (raster tiles), coverage per
 * village / grid, walking time to the nearest position (heatmap tiles), 2SFCA
 * supply per village, uncovered compounds by population, party-branch
 * coverage, proposed sites, positions; legend and layer control; a saved
 * scenario beside today (scenario.js). WGS-84 throughout. */
(function () {
  "use strict";
  var SM = window.ServiceMap = window.ServiceMap || {};

  function esc(s) {
    return String(s === null || s === undefined ? "" : s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function fmt(n) { return Number(n || 0).toLocaleString("zh-CN"); }

  SM.planner = function (map, cfg) {
    var root = map.getContainer();
    root.classList.add("sm-planner");
    map.attributionControl.setPrefix(false);
    L.control.zoom({ position: "topleft", zoomInTitle: "放大", zoomOutTitle: "缩小" }).addTo(map);
    L.control.scale({ imperial: false, position: "bottomleft" }).addTo(map);

    // basemaps
    var bases = {};
    cfg.basemaps.forEach(function (b, i) {
      var layer = L.tileLayer(b.url, { attribution: b.attribution, subdomains: b.subdomains,
        maxZoom: 19, maxNativeZoom: b.online ? Math.min(18, b.max_zoom) : 19 });
      if (b.labels_url) {
        layer = L.layerGroup([layer, L.tileLayer(b.labels_url, { subdomains: b.subdomains, maxZoom: 19, maxNativeZoom: 18 })]);
      }
      bases[b.title] = layer;
      if (i === 0) { layer.addTo(map); }
    });

    var overlays = {};
    // coverage choropleths
    function areaLayer(fc, what) {
      return L.geoJSON(fc, {
        style: function (f) {
          return { color: "#555", weight: 1, fillColor: f.properties.colour, fillOpacity: 0.55,
            className: "sm-area sm-area-" + what };
        },
        onEachFeature: function (f, layer) {
          var p = f.properties;
          var html = "<b>" + esc(p.name) + "</b><br>服务圈覆盖人口：" + fmt(p.covered_population) + " / " +
            fmt(p.population) + "（" + esc(p.share_label) + "）<br>覆盖小区：" + p.covered_compounds + " / " + p.compounds;
          if (p.within_10min_pct !== undefined) {
            html += "<br>步行 10 分钟内到最近阵地：" + p.within_10min_pct.toFixed(2) + "%；中位 " +
              (p.median_minutes === null ? "—" : p.median_minutes) + " 分钟，90% 居民在 " +
              (p.p90_minutes === null ? "—" : p.p90_minutes) + " 分钟内";
          }
          if (p.m2_per_1000 !== undefined) { html += "<br>人均服务面积（2SFCA）：" + p.m2_per_1000 + " m²/千人"; }
          layer.bindPopup(html);
          layer.bindTooltip(esc(p.name) + " " + esc(p.share_label), { sticky: true });
        }
      });
    }
    var villages = areaLayer(cfg.villages, "village");
    overlays["村居覆盖率（人口）"] = villages;
    villages.addTo(map);
    if (cfg.grids.features.length) { overlays["网格覆盖率（人口）"] = areaLayer(cfg.grids, "grid"); }

    // service circles: raster tiles drawn by the server
    var circles = L.tileLayer(cfg.tiles.circles, { maxZoom: 19, opacity: 1, className: "sm-circles-tiles" });
    overlays["步行" + cfg.minutes + "分钟服务圈"] = circles;
    circles.addTo(map);

    // walking time from every place to the nearest position: raster tiles
    var walk = L.tileLayer(cfg.tiles.walktime, { maxZoom: 19, minNativeZoom: 11, opacity: 1,
      className: "sm-walk-tiles" });
    var walkName = "步行到最近阵地的时间";
    overlays[walkName] = walk;

    // 2SFCA supply per village
    var supplyName = "人均服务面积（2SFCA，村居）";
    if (cfg.access) {
      overlays[supplyName] = L.geoJSON(cfg.villages, {
        style: function (f) {
          return { color: "#555", weight: 1, fillColor: f.properties.supply_colour || "#ccc", fillOpacity: 0.7,
            className: "sm-area sm-supply" };
        },
        onEachFeature: function (f, layer) {
          layer.bindTooltip(esc(f.properties.name) + " " + esc(f.properties.m2_per_1000) + " m²/千人", { sticky: true });
        }
      });
    }

    // uncovered compounds by population
    var uncovered = L.geoJSON(cfg.uncovered, {
      style: function (f) {
        return { color: "#4a0036", weight: 1, fillColor: f.properties.colour, fillOpacity: 0.85,
          className: "sm-uncovered" };
      },
      onEachFeature: function (f, layer) {
        var p = f.properties;
        layer.bindPopup("<b>" + esc(p.name) + "</b><br>服务圈外人口：" + fmt(p.population_uncovered) + " / " +
          fmt(p.population) + " 人");
      }
    });
    overlays["服务圈外人口（按小区）"] = uncovered;
    uncovered.addTo(map);

    // party-branch coverage of compounds
    if (cfg.branch.features.length) {
      var branch = L.geoJSON(cfg.branch, {
        style: function (f) {
          return { color: "#333", weight: 1, fillColor: f.properties.has_branch ? "#2b83ba" : "#d7191c",
            fillOpacity: 0.6, className: "sm-branch" };
        },
        onEachFeature: function (f, layer) {
          layer.bindPopup("<b>" + esc(f.properties.name) + "</b><br>" + (f.properties.has_branch ? "已建小区党支部" : "尚无党支部覆盖"));
        }
      });
      overlays["小区党支部覆盖"] = branch;
    }

    // proposed sites
    if (cfg.sites && cfg.sites.features && cfg.sites.features.length) {
      overlays["建议新增站点"] = L.geoJSON(cfg.sites, {
        pointToLayer: function (f, latlng) {
          return L.circleMarker(latlng, { radius: 9, color: "#000", weight: 2, fillColor: "#ffeb3b", fillOpacity: 1, className: "sm-site" });
        },
        onEachFeature: function (f, layer) {
          var p = f.properties || {};
          layer.bindPopup("<b>建议站点 " + esc(p.rank || "") + "</b><br>" + esc(p.label || p.name || ""));
        }
      }).addTo(map);
    }

    // positions
    var kinds = {};
    cfg.kinds.forEach(function (k) { kinds[k.kind] = k; });
    var pts = L.layerGroup(cfg.points.map(function (p) {
      var k = kinds[p.kind] || kinds.other;
      return L.circleMarker([p.lat, p.lng], { radius: Math.max(4, k.size / 5), color: "#fff", weight: 1.5,
        fillColor: k.colour, fillOpacity: 1, className: "sm-point" })
        .bindPopup("<b>" + esc(p.name) + "</b><br>" + esc(k.label));
    }));
    overlays["服务阵地"] = pts;
    pts.addTo(map);

    L.control.layers(bases, overlays, { collapsed: window.innerWidth < 700, position: "topright" }).addTo(map);

    // legend and summary
    var s = cfg.summary;
    var legend = L.control({ position: "bottomright" });
    legend.onAdd = function () {
      var html = '<div class="sm-plegend" id="sm-plegend"><div class="sm-ptitle">' + esc(cfg.title) + "</div>";
      html += '<div class="sm-psum">服务阵地 ' + fmt(s.points) + " 个；服务圈覆盖人口 " + fmt(s.population_covered) +
        " / " + fmt(s.population) + "（" + esc(s.population_share) + "），覆盖小区 " + esc(s.compound_share) + "</div>";
      if (cfg.analysis_note) { html += '<div class="sm-pnote">' + esc(cfg.analysis_note) + "</div>"; }
      if (s.branch_compounds) {
        html += '<div class="sm-psum">小区党支部覆盖 ' + s.with_branch + " / " + s.branch_compounds + "（" +
          esc(s.branch_share) + "，四舍五入）</div>";
      }
      html += "<b>覆盖率（人口）</b>";
      cfg.ramps.coverage.forEach(function (r) {
        html += '<div class="sm-prow"><i style="background:' + r.colour + '"></i>' + esc(r.label) + "</div>";
      });
      html += "<b>小区服务圈外人口</b>";
      cfg.ramps.uncovered.forEach(function (r) {
        html += '<div class="sm-prow"><i style="background:' + r.colour + '"></i>' + esc(r.label) + "</div>";
      });
      html += '<div class="sm-prow"><i style="background:' + cfg.circle.fill + ";opacity:.5;border:1px solid " + cfg.circle.stroke +
        '"></i>步行' + cfg.minutes + "分钟服务圈</div>";
      var a = cfg.access;
      if (a) {
        html += '<div class="sm-psum" id="sm-walk-sum">步行速度：' + (a.profile === "elderly" ? "老年人 " : "") + a.speed_kmh +
          " 公里/小时（每分钟 " + a.metres_per_minute + " 米）。" + "10 分钟内可步行到最近阵地的居民 " + a.within_10min_pct.toFixed(2) +
          "%，中位 " + a.median_minutes + " 分钟</div>";
        html += '<div class="sm-lsec" data-layer="walk" hidden><b>步行到最近阵地（分钟）</b>';
        cfg.ramps.walk.forEach(function (r) {
          html += '<div class="sm-prow"><i style="background:' + r.colour + '"></i>' + esc(r.label) + "</div>";
        });
        html += "</div>";
        html += '<div class="sm-lsec" data-layer="supply" hidden><b>人均服务面积（2SFCA）</b>';
        cfg.ramps.supply.forEach(function (r) {
          html += '<div class="sm-prow"><i style="background:' + r.colour + '"></i>' + esc(r.label) + "</div>";
        });
        html += '<div class="sm-pnote">阵地建筑面积 ÷ ' + a.catchment_minutes + " 分钟步行范围内的居民" +
          (a.imputed ? "；" + a.imputed + " 个阵地缺少面积，取同类中位数" : "") + "</div></div>";
      }
      if (cfg.branch.features.length) {
        html += '<div class="sm-prow"><i style="background:#2b83ba"></i>有党支部的小区</div>' +
          '<div class="sm-prow"><i style="background:#d7191c"></i>无党支部的小区</div>';
      }
      if (cfg.sites && cfg.sites.features) {
        html += '<div class="sm-prow"><i style="background:#ffeb3b;border-radius:50%"></i>建议新增站点（' + cfg.sites.features.length + "）</div>";
      } else { html += '<div class="sm-pnote">建议新增站点：在网址后加 &amp;sites=3 计算</div>'; }
      html += "</div>";
      var div = L.DomUtil.create("div", "leaflet-bar sm-plegend-box");
      // it scrolls on small screens: reachable by keyboard, named
      div.setAttribute("tabindex", "0");
      div.setAttribute("role", "region");
      div.setAttribute("aria-label", "图例");
      div.innerHTML = html;
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      return div;
    };
    legend.addTo(map);
    // legend sections follow their layers
    function section(layer, on) {
      var key = layer === walk ? "walk" : (layer === overlays[supplyName] ? "supply" : null);
      if (!key) { return; }
      var el = root.querySelector('.sm-lsec[data-layer="' + key + '"]');
      if (el) { el.hidden = !on; }
    }
    map.on("overlayadd", function (e) { section(e.layer, true); });
    map.on("overlayremove", function (e) { section(e.layer, false); });
    // #walk or #supply in the address opens the page on that layer
    var wanted = { "#walk": walk, "#supply": overlays[supplyName] }[window.location.hash];
    if (wanted) {
      // alone with the positions and the village outlines, so the surface reads
      [circles, uncovered].forEach(function (l) { map.removeLayer(l); });
      if (wanted === walk) { villages.setStyle({ fillOpacity: 0 }); }
      else { map.removeLayer(villages); }
      wanted.addTo(map);
      section(wanted, true);
    }
    if (cfg.synthetic) {
      var badge = L.DomUtil.create("div", "sm-badge sm-pbadge", root);
      badge.id = "sm-badge";
      badge.textContent = cfg.badge;
    }
    if (cfg.bounds) { map.fitBounds(cfg.bounds, { padding: [10, 10] }); }
    var app = { map: map, overlays: overlays, config: cfg, walk: walk };
    if (SM.scenario) { app.scenario = SM.scenario(map, cfg); }
    root.setAttribute("data-ready", "1");
    return app;
  };
})();
