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

    // drawing order, bottom to top: areas, compounds, positions, names (a
    // grid layer switched on later stays under the positions)
    [["smCompounds", 420], ["smPoints", 630], ["smLabels", 640]].forEach(function (p) {
      var pane = map.createPane(p[0]);
      pane.style.zIndex = p[1];
      if (p[0] === "smLabels") { pane.style.pointerEvents = "none"; }
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
            fmt(p.population) + "（" + esc(p.share_label) + "）<br>覆盖小区：" + p.covered_compounds + " / " + p.compounds +
            (Number(p.covered_compounds) % 1 ? "（部分覆盖的小区按圈内人口比例折算）" : "");
          if (p.branch_compounds !== undefined) {
            html += "<br>有党支部的小区：" + p.with_branch + " / " + p.branch_compounds + "（" + esc(p.branch_share) +
              "），联系本村居小区的党支部 " + p.branches + " 个";
          }
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
    // village names, above everything, with a white halo
    var names = L.layerGroup(cfg.villages.features.filter(function (f) { return f.properties.label_at; })
      .sort(function (a, b) { return (b.properties.population || 0) - (a.properties.population || 0); })
      .map(function (f) {
        return L.marker(f.properties.label_at, { pane: "smLabels", interactive: false, keyboard: false,
          icon: L.divIcon({ className: "sm-vlabel", html: "<span>" + esc(f.properties.name) + "</span>",
            iconSize: null }) });
      }));
    overlays["村居名称"] = names;
    names.addTo(map);
    // names that would overlap are hidden (the larger village keeps its name)
    function declutter() {
      // in layer pixels of the map's current zoom, so a running animation does not matter
      var boxes = [];
      names.getLayers().forEach(function (l) {
        var el = l.getElement && l.getElement();
        if (!el) { return; }
        var span = el.firstChild, c = map.latLngToLayerPoint(l.getLatLng());
        var w = span.offsetWidth / 2 + 4, h = span.offsetHeight / 2 + 2;
        var r = { left: c.x - w, right: c.x + w, top: c.y - h, bottom: c.y + h };
        var hit = boxes.some(function (b) {
          return !(r.right < b.left || r.left > b.right || r.bottom < b.top || r.top > b.bottom);
        });
        span.style.visibility = hit ? "hidden" : "";
        if (!hit) { boxes.push(r); }
      });
    }
    map.on("zoomend overlayadd", declutter);

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

    // residents' wishes per grid cell: open wishes (cells under the threshold: outline only)
    var wishName = "居民心愿（按网格）", wishes = null;
    function wishLine(p) {
      return "在办心愿 " + p.open + "，待认领 " + p.unclaimed + "，超期 " + p.overdue;
    }
    if (cfg.wishes) {
      wishes = L.geoJSON(cfg.wishes.cells, {
        style: function (f) {
          var p = f.properties;
          return p.suppressed ?
            { color: "#424242", weight: 1.5, dashArray: "4 4", fillColor: "#9e9e9e", fillOpacity: 0.3,
              className: "sm-wish sm-wish-hidden" } :
            { color: "#08306b", weight: 1, fillColor: p.colour, fillOpacity: 0.75, className: "sm-wish" };
        },
        onEachFeature: function (f, layer) {
          var p = f.properties, where = "<b>" + esc(p.name) + "</b>" + (p.village ? "（" + esc(p.village) + "）" : "");
          if (p.suppressed) {
            layer.bindPopup(where + "<br>心愿不足 " + cfg.wishes.below + " 个，不单独显示，计入图例中的合计");
            layer.bindTooltip(esc(p.name) + "：心愿不足 " + cfg.wishes.below + " 个", { sticky: true });
            return;
          }
          layer.bindPopup(where + "<br>" + wishLine(p) + "<br>已完成 " + p.fulfilled +
            (p.closed ? "，已关闭 " + p.closed : "") + "；共 " + p.total + " 个");
          layer.bindTooltip(esc(p.name) + "：" + wishLine(p), { sticky: true });
        }
      });
      overlays[wishName] = wishes;
      // the open wishes as a number in the cell (overdue in red), with the layer
      var wishLabels = L.layerGroup(cfg.wishes.cells.features.filter(function (f) {
        return !f.properties.suppressed && f.properties.open > 0 && f.properties.lat !== null;
      }).map(function (f) {
        var p = f.properties;
        return L.marker([p.lat, p.lng], { pane: "smLabels", interactive: false, keyboard: false,
          icon: L.divIcon({ className: "sm-wlabel", iconSize: null, html: "<span>" + p.open +
            (p.overdue ? "<em>超期 " + p.overdue + "</em>" : "") + "</span>" }) });
      }));
      wishes.on("add", function () { wishLabels.addTo(map); });
      wishes.on("remove", function () { map.removeLayer(wishLabels); });
    }

    // uncovered compounds by population
    var uncovered = L.geoJSON(cfg.uncovered, {
      pane: "smCompounds",
      style: function (f) {
        return { color: "#4a0036", weight: 1.5, fillColor: f.properties.colour, fillOpacity: 0.85,
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
        pane: "smCompounds",
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

    // proposed sites: in the page (?sites=K) or asked for with the legend's button
    var sitesName = "建议新增站点";
    function sitesLayer(fc) {
      return L.geoJSON(fc, {
        pointToLayer: function (f, latlng) {
          return L.circleMarker(latlng, { pane: "smPoints", radius: 11, color: "#000", weight: 2,
            fillColor: "#ffeb3b", fillOpacity: 1, className: "sm-site" });
        },
        onEachFeature: function (f, layer) {
          var p = f.properties || {};
          layer.bindPopup("<b>建议站点 " + esc(p.rank || "") + "</b><br>" + esc(p.label || p.name || ""));
          layer.bindTooltip(String(p.rank || ""), { permanent: true, direction: "center", className: "sm-site-rank",
            pane: "smLabels" });
        }
      });
    }
    if (cfg.sites && cfg.sites.features && cfg.sites.features.length) {
      overlays[sitesName] = sitesLayer(cfg.sites).addTo(map);
    }

    // centers that missed the monthly rule (月月有活动): a ring under their marker
    var acts = cfg.activities, missedName = "未做到月月有活动的中心", missed = null, actsOf = {};
    function monthsText(ms) { return ms.join("、") + " 月"; }
    if (acts) {
      acts.centers.forEach(function (c) { actsOf[c.code] = c; });
      missed = L.layerGroup(acts.centers.filter(function (c) { return !c.meets_rule && c.lat !== null; })
        .map(function (c) {
          return L.circleMarker([c.lat, c.lng], { pane: "smPoints", radius: 14, color: "#6a1b9a", weight: 4,
            fill: false, className: "sm-missed" })
            .bindTooltip(esc(c.name) + "：" + acts.year + " 年 " + monthsText(c.missed_months) + "没有活动");
        }));
      if (missed.getLayers().length) {  // listed in the layer control only when there are any
        overlays[missedName] = missed;
        missed.addTo(map);
      }
    }

    // public facilities from OpenStreetMap (community centres, schools, clinics …): reference only
    if (cfg.facilities && cfg.facilities.length) {
      overlays["公共设施（OSM）"] = L.layerGroup(cfg.facilities.map(function (f) {
        // small hollow grey rings: beneath the positions in weight, never mistaken for one
        return L.circleMarker([f.lat, f.lng], { pane: "smPoints", radius: 3.5, color: "#607d8b", weight: 1.5,
          fillColor: "#eceff1", fillOpacity: 1, className: "sm-facility" })
          .bindPopup("<b>" + esc(f.name) + "</b><br>" + esc(f.kind_zh) + "（OpenStreetMap）");
      }));
    }

    // positions
    var kinds = {};
    cfg.kinds.forEach(function (k) { kinds[k.kind] = k; });
    function actsLine(c) {
      if (!c) { return ""; }
      return "<br>" + acts.year + " 年活动 " + c.activities + " 场" +
        (c.meets_rule ? (acts.months_closed ? "，截至 " + acts.months_closed + " 月月月有活动" : "") :
          "，<b>" + monthsText(c.missed_months) + "没有活动</b>");
    }
    var pts = L.layerGroup(cfg.points.map(function (p) {
      var k = kinds[p.kind] || kinds.other;
      return L.circleMarker([p.lat, p.lng], { pane: "smPoints", radius: Math.max(4, k.size / 5), color: "#fff", weight: 1.5,
        fillColor: k.colour, fillOpacity: 1, className: "sm-point" })
        .bindPopup("<b>" + esc(p.name) + "</b><br>" + esc(k.label) + actsLine(actsOf[p.code]));
    }));
    overlays["服务阵地"] = pts;
    pts.addTo(map);

    var layers = L.control.layers(bases, overlays, { collapsed: window.innerWidth < 700, position: "topright" }).addTo(map);

    // legend and summary
    var s = cfg.summary;
    var legend = L.control({ position: "bottomright" });
    function row(colour, label, extra) {
      return '<div class="sm-prow"><i style="background:' + colour + (extra || "") + '"></i>' + esc(label) + "</div>";
    }
    // the residents' side: wishes (the section shows with its layer) and activities
    function wishLegend() {
      var w = cfg.wishes;
      if (!w) { return ""; }
      var t = w.totals, sup = w.suppressed, r = w.rules;
      var h = '<div class="sm-psum" id="sm-wish-sum">居民心愿（含微项目）' + fmt(t.total) + " 个：在办 " + fmt(t.open) +
        "，待认领 " + fmt(t.unclaimed) + "，<span class=\"sm-overdue\">超期 " + fmt(t.overdue) + "</span>，已完成 " +
        fmt(t.fulfilled) + "</div>";
      h += '<div class="sm-lsec" data-layer="wishes" hidden><b>在办心愿（按网格）</b>';
      cfg.ramps.wishes.forEach(function (x) { h += row(x.colour, x.label); });
      h += row("rgba(158,158,158,.3)", "心愿不足 " + w.below + " 个的网格（不显示数字）", ";border:2px dashed #424242");
      h += '<div class="sm-prow"><span class="sm-wlabel-key">5<em>超期 2</em></span>格内数字：在办心愿，红字为其中超期</div>';
      h += '<div class="sm-pnote">';
      if (sup.cells) {
        h += sup.cells + " 个网格心愿不足 " + w.below + " 个，合计 " + sup.total + " 个（在办 " + sup.open + "，待认领 " +
          sup.unclaimed + "，超期 " + sup.overdue + "），不单独显示。";
      }
      if (w.ungridded.total) { h += w.ungridded.total + " 个心愿没有定位到网格。"; }
      h += "在办：已提交、已发布、已认领未完成；超期：提交 " + r.review_days + " 天未审核、发布 " + r.claim_days +
        " 天无人认领、认领 " + r.fulfil_days + " 天未完成（截至 " + Number(w.asof.slice(5, 7)) + " 月 " +
        Number(w.asof.slice(8, 10)) + " 日）</div></div>";
      return h;
    }
    function actsLegend() {
      if (!acts) { return ""; }
      var bad = acts.centers.filter(function (c) { return !c.meets_rule; });
      var h = '<div class="sm-pacts" id="sm-acts"><b>阵地活动（' + acts.year + " 年）</b>" +
        '<div class="sm-psum">' + acts.centers.length + " 个党群服务中心共 " + fmt(acts.activities) + " 场活动" +
        (acts.person_times ? "，服务 " + fmt(acts.person_times) + " 人次" : "") + "</div>";
      if (!acts.months_closed) {
        h += '<div class="sm-pnote">' + acts.year + " 年还没有过完的月份，暂不判断月月有活动</div>";
      } else if (bad.length) {
        h += row("#fff", "未做到月月有活动（截至 " + acts.months_closed + " 月）：" + bad.length + " 个",
          ";border:4px solid #6a1b9a;border-radius:50%;width:12px;height:12px");
        h += '<ul class="sm-missed-list" id="sm-missed-list">' + bad.map(function (c) {
          return '<li data-code="' + esc(c.code) + '">' + esc(c.name) + "：" + monthsText(c.missed_months) + "没有活动</li>";
        }).join("") + "</ul>";
      } else {
        h += '<div class="sm-psum sm-ok">截至 ' + acts.months_closed + " 月，每个中心月月有活动</div>";
      }
      h += '<details class="sm-pmethod" id="sm-acts-table"><summary>各中心每月活动场次</summary>' +
        '<div class="sm-acts-wrap" tabindex="0" role="region" aria-label="各中心每月活动场次表">' +
        '<table class="sm-acts-tbl"><thead><tr><th scope="col">中心</th>';
      for (var m = 1; m <= 12; m++) { h += '<th scope="col">' + m + "</th>"; }
      h += "</tr></thead><tbody>";
      acts.centers.forEach(function (c) {
        h += '<tr data-code="' + esc(c.code) + '"' + (c.meets_rule ? "" : ' class="sm-bad"') + '><th scope="row" title="' +
          esc(c.name) + '">' + esc(c.short) + "</th>";
        c.months.forEach(function (n, i) {
          var miss = c.missed_months.indexOf(i + 1) >= 0, later = i + 1 > acts.months_closed;
          h += "<td" + (miss ? ' class="sm-miss" title="' + (i + 1) + ' 月没有活动"' : (later ? ' class="sm-later"' : "")) + ">" + n + "</td>";
        });
        h += "</tr>";
      });
      h += '</tbody></table></div><div class="sm-pnote">月月有活动：每个中心每月至少一场。红底为没有活动的月份' +
        (acts.months_closed < 12 ? "；" + (acts.months_closed + 1) + " 月起为已排期的活动，尚未计入" : "") + "</div></details></div>";
      return h;
    }
    legend.onAdd = function () {
      var html = '<div class="sm-plegend" id="sm-plegend"><div class="sm-phead"><span class="sm-ptitle">' + esc(cfg.title) +
        '</span><button type="button" class="sm-ptoggle" aria-expanded="true" aria-controls="sm-pbody">收起</button></div>' +
        '<div id="sm-pbody">';
      html += '<div class="sm-psum">服务阵地 ' + fmt(s.points) + " 个；服务圈覆盖人口 " + fmt(s.population_covered) +
        " / " + fmt(s.population) + "（" + esc(s.population_share) + "），覆盖小区 " + esc(s.compound_share) + "</div>";
      if (cfg.analysis_note) { html += '<div class="sm-pnote">' + esc(cfg.analysis_note) + "</div>"; }
      if (s.branch_compounds) {
        html += '<div class="sm-psum" id="sm-branch-sum">小区党支部覆盖 ' + s.with_branch + " / " + s.branch_compounds + "（" +
          esc(s.branch_share) + "，四舍五入；截尾为 " + esc(s.branch_share_truncated) + "）</div>";
      }
      html += "<b>覆盖率（人口）</b>";
      cfg.ramps.coverage.forEach(function (r) { html += row(r.colour, r.label); });
      html += "<b>小区服务圈外人口</b>";
      cfg.ramps.uncovered.forEach(function (r) { html += row(r.colour, r.label); });
      html += row(cfg.circle.fill, "步行" + cfg.minutes + "分钟服务圈", ";opacity:.5;border:1px solid " + cfg.circle.stroke);
      if (cfg.facilities && cfg.facilities.length) {
        html += row("#eceff1", "公共设施（OpenStreetMap，仅供参考，" + cfg.facilities.length + " 处）",
          ";border-radius:50%;border:2px solid #607d8b");
      }
      var a = cfg.access;
      if (a) {
        html += '<div class="sm-psum" id="sm-walk-sum">步行速度：' + (a.profile === "elderly" ? "老年人 " : "") + a.speed_kmh +
          " 公里/小时（每分钟 " + a.metres_per_minute + " 米）。10 分钟内可步行到最近阵地的居民 " + a.within_10min_pct.toFixed(2) +
          "%，中位 " + a.median_minutes + " 分钟</div>";
        html += '<div class="sm-lsec" data-layer="walk" hidden><b>步行到最近阵地（分钟）</b>';
        cfg.ramps.walk.forEach(function (r) { html += row(r.colour, r.label); });
        html += "</div>";
        html += '<div class="sm-lsec" data-layer="supply" hidden><b>人均服务面积（2SFCA）</b>';
        cfg.ramps.supply.forEach(function (r) { html += row(r.colour, r.label); });
        html += '<div class="sm-pnote">阵地建筑面积 ÷ ' + a.catchment_minutes + " 分钟步行范围内的居民" +
          (a.imputed ? "；" + a.imputed + " 个阵地缺少面积，取同类中位数" : "") + "</div></div>";
      }
      if (cfg.branch.features.length) {
        html += row("#2b83ba", "有党支部的小区") + row("#d7191c", "无党支部的小区");
      }
      html += wishLegend() + actsLegend();
      // what the figures depend on
      var m = cfg.method;
      if (m) {
        html += '<details class="sm-pmethod" id="sm-method"><summary>口径说明：这些数字怎么算</summary><ul>' +
          "<li>服务圈：沿道路步行 " + m.minutes + " 分钟，按" + (m.profile === "elderly" ? "老年人" : "") + "步速 " + m.speed_kmh +
          " 公里/小时，约 " + fmt(m.budget_m) + " 米（不是直线距离）</li>" +
          (a ? "<li>步行时间：从每栋住宅沿道路走到最近阵地，步速 " + a.speed_kmh + " 公里/小时（每分钟 " + a.metres_per_minute + " 米）</li>" : "") +
          "<li>覆盖：" + esc(m.rule_zh) + "</li>" +
          "<li>覆盖小区出现小数（如 8.49 个），是因为部分楼栋在圈内的小区按圈内人口比例折算</li>" +
          (m.branch_rule_zh ? "<li>党支部：" + esc(m.branch_rule_zh) + "</li>" : "");
        if (s.branches_by_village && s.branches_by_village !== s.branches) {
          html += "<li>各村居分别统计联系本村居小区的党支部，一个党支部可以联系几个村居的小区，所以各村居党支部数相加（" +
            s.branches_by_village + " 个）多于全" + (cfg.title.indexOf("街道") >= 0 ? "街道" : "镇") + "党支部数（" + s.branches + " 个）</li>";
        }
        html += "<li>百分比" + esc(m.rounding_zh) + "保留两位小数；宣传稿常用截尾（如 32/36 写作 88.88%）</li></ul></details>";
      }
      // the figures on screen as files
      if (cfg.exports && cfg.exports.length) {
        html += '<div class="sm-pexports"><b>导出图上数据</b>';
        cfg.exports.forEach(function (e) { html += '<a class="sm-pexport" href="' + esc(e.href) + '" download>' + esc(e.label) + "</a>"; });
        html += "</div>";
      }
      html += '<div class="sm-psites"><b>建议新增站点</b><div class="sm-psites-row"><label for="sm-sites-k">数量</label>' +
        '<select id="sm-sites-k">' + [1, 2, 3, 4, 5].map(function (k) {
          return '<option value="' + k + '"' + (k === 3 ? " selected" : "") + ">" + k + " 个</option>";
        }).join("") + '</select><button type="button" id="sm-sites-go">计算</button></div>' +
        '<p id="sm-sites-status" class="sm-pnote" aria-live="polite"></p></div>';
      html += "</div></div>";
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
    // the legend folds away (folded at first on a phone)
    var toggle = root.querySelector(".sm-ptoggle"), body = root.querySelector("#sm-pbody");
    function fold(open) {
      body.hidden = !open;
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
      toggle.textContent = open ? "收起" : "图例";
    }
    toggle.addEventListener("click", function () { fold(body.hidden); });
    if (window.innerWidth < 700) { fold(false); }
    // proposed sites on request
    var go = root.querySelector("#sm-sites-go"), status = root.querySelector("#sm-sites-status");
    go.addEventListener("click", function () {
      var k = root.querySelector("#sm-sites-k").value;
      go.disabled = true;
      status.textContent = "正在计算 " + k + " 个建议站点，约需 10 秒……";
      fetch(cfg.sites_url + "&k=" + encodeURIComponent(k), { headers: { Accept: "application/geo+json" } })
        .then(function (r) {
          if (!r.ok) { throw new Error(r.status === 503 || r.status === 429 ? "服务器正忙，请稍后再试" : "计算失败（" + r.status + "）"); }
          return r.json();
        })
        .then(function (fc) {
          if (overlays[sitesName]) { map.removeLayer(overlays[sitesName]); layers.removeLayer(overlays[sitesName]); }
          overlays[sitesName] = sitesLayer(fc).addTo(map);
          layers.addOverlay(overlays[sitesName], sitesName);
          var f = fc.features;
          var gain = f.reduce(function (a, x) { return a + (x.properties.population_new || 0); }, 0);
          status.textContent = f.length ? "已标出 " + f.length + " 个建议站点（黄色圆点，数字为先后顺序），合计新增覆盖 " +
            fmt(gain) + " 人，覆盖率升至 " + f[f.length - 1].properties.population_pct_after.toFixed(2) + "%" :
            "没有能新增覆盖居民的站点";
          if (f.length) { map.fitBounds(overlays[sitesName].getBounds().pad(0.3), fitOpts()); }
        })
        .catch(function (e) { status.textContent = e.message || "计算失败，请稍后再试"; })
        .then(function () { go.disabled = false; });
    });
    // legend sections follow their layers
    function section(layer, on) {
      var key = layer === walk ? "walk" : (layer === overlays[supplyName] ? "supply" :
        (wishes && layer === wishes ? "wishes" : null));
      if (!key) { return; }
      var el = root.querySelector('.sm-lsec[data-layer="' + key + '"]');
      if (el) { el.hidden = !on; }
      if (el && on) { reveal(el, key === "wishes" ? root.querySelector("#sm-wish-sum") : el); }
    }
    // a section that appears is scrolled into the legend's view (from its heading line)
    function reveal(el, from) {
      var box = root.querySelector(".sm-plegend-box");
      if (!box || body.hidden) { return; }
      var edge = box.getBoundingClientRect().top, r = el.getBoundingClientRect();
      if (r.top < edge || r.top - edge + Math.min(r.height, box.clientHeight - 16) > box.clientHeight) {
        box.scrollTop += (from || el).getBoundingClientRect().top - edge - 8;
      }
    }
    map.on("overlayadd", function (e) { section(e.layer, true); });
    map.on("overlayremove", function (e) { section(e.layer, false); });
    // #walk, #supply or #wishes in the address opens the page on that layer
    var wanted = { "#walk": walk, "#supply": overlays[supplyName], "#wishes": wishes }[window.location.hash];
    if (wanted) {
      // alone with the positions and the village outlines, so the surface reads
      [circles, uncovered].forEach(function (l) { map.removeLayer(l); });
      if (wanted === walk || wanted === wishes) { villages.setStyle({ fillOpacity: 0 }); }
      else { map.removeLayer(villages); }
      wanted.addTo(map);
      section(wanted, true);
    }
    if (cfg.synthetic) {
      var badge = L.DomUtil.create("div", "sm-badge sm-pbadge", root);
      badge.id = "sm-badge";
      badge.textContent = cfg.badge;
    }
    // fit the town beside the legend, not under it
    function fitOpts() {
      var box = root.querySelector(".sm-plegend-box");
      var wide = window.innerWidth >= 700 && box && !body.hidden;
      return { paddingTopLeft: [10, 10], paddingBottomRight: [wide ? box.offsetWidth + 20 : 10, 10] };
    }
    // the legend never runs under the layer control
    function legendHeight() {
      var box = root.querySelector(".sm-plegend-box"), ctl = root.querySelector(".leaflet-control-layers");
      if (!box || !ctl) { return; }
      var free = root.clientHeight - (ctl.getBoundingClientRect().bottom - root.getBoundingClientRect().top) - 70;
      box.style.maxHeight = Math.max(120, free) + "px";
    }
    legendHeight();
    map.on("resize", legendHeight);
    if (wanted) { section(wanted, true); }
    if (cfg.bounds) { map.fitBounds(cfg.bounds, fitOpts()); }
    declutter();
    var app = { map: map, overlays: overlays, config: cfg, walk: walk, names: names, wishes: wishes,
      missed: missed };
    if (SM.scenario) { app.scenario = SM.scenario(map, cfg); }
    root.setAttribute("data-ready", "1");
    return app;
  };
})();
