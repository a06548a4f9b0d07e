/* ServiceMap 党群服务规划图 — a saved scenario beside today.
 *
 * The page is public and cached; a scenario is private to the planners of its
 * region. So the planner gives their own token here (kept in this tab's
 * sessionStorage only), the script reads the scenario and its comparison
 * from the API (/api/v1/scenarios/{id}, /compare) and opens a second map
 * beside today's, kept at the same view: villages coloured by the scenario's
 * circle coverage, the changed positions and paths drawn, the differences
 * per village listed, the comparison exportable. ?scenario=ID opens it. */
(function () {
  "use strict";
  var SM = window.ServiceMap = window.ServiceMap || {};
  var KEY = "servicemap-token";

  function esc(s) {
    return String(s === null || s === undefined ? "" : s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function fmt(n) { return Number(n || 0).toLocaleString("zh-CN"); }
  function signed(n, digits) {
    var v = Number(n || 0);
    var t = digits === undefined ? fmt(Math.abs(v)) : Math.abs(v).toFixed(digits);
    return (v > 0 ? "+" : v < 0 ? "−" : "±") + t;
  }
  function rampColour(value, ramp) {
    var c = ramp[0].colour;
    ramp.forEach(function (r) { if (r.min !== null && value >= r.min) { c = r.colour; } });
    return c;
  }
  function storedToken() { try { return window.sessionStorage.getItem(KEY) || ""; } catch (e) { return ""; } }
  function storeToken(t) { try { window.sessionStorage.setItem(KEY, t); } catch (e) { /* private mode */ } }

  // A problem+json answer in the words of its detail (Chinese), else the status.
  function problem(r) {
    return r.json().then(function (b) { return b.detail || b.title || ("HTTP " + r.status); },
      function () { return "HTTP " + r.status; }).then(function (msg) {
      if (r.status === 401) { msg = "令牌无效或已过期：" + msg; }
      if (r.status === 403) { msg = "令牌无权查看：" + msg; }
      throw new Error(msg);
    });
  }
  function get(url, token, asBlob) {
    return fetch(url, { headers: { Authorization: "Bearer " + token }, credentials: "omit" })
      .then(function (r) { return r.ok ? (asBlob ? r.blob() : r.json()) : problem(r); });
  }

  SM.scenario = function (map, cfg) {
    var root = map.getContainer();
    var api = cfg.api;
    var state = { token: storedToken(), other: null, id: null };

    // the panel: a button in the legend opens it
    var panel = L.control({ position: "topleft" });
    panel.onAdd = function () {
      var div = L.DomUtil.create("div", "leaflet-bar sm-scn-panel");
      div.id = "sm-scn-panel";
      div.innerHTML =
        '<button type="button" class="sm-scn-open" aria-expanded="false" aria-controls="sm-scn-form">方案对比</button>' +
        '<form id="sm-scn-form" class="sm-scn-form" hidden>' +
        '<label for="sm-scn-token">规划令牌（仅保存在本标签页）</label>' +
        '<input id="sm-scn-token" type="password" autocomplete="off" spellcheck="false">' +
        '<button type="submit" class="sm-scn-load">读取方案</button>' +
        '<label for="sm-scn-select">方案</label>' +
        '<select id="sm-scn-select" disabled><option value="">—</option></select>' +
        '<button type="button" class="sm-scn-show" disabled>与今天对比</button>' +
        '<p class="sm-scn-status" role="status" aria-live="polite"></p></form>';
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      return div;
    };
    panel.addTo(map);
    var box = root.querySelector("#sm-scn-panel");
    var form = box.querySelector("form");
    var openBtn = box.querySelector(".sm-scn-open");
    var tokenIn = box.querySelector("#sm-scn-token");
    var select = box.querySelector("#sm-scn-select");
    var showBtn = box.querySelector(".sm-scn-show");
    var status = box.querySelector(".sm-scn-status");
    tokenIn.value = state.token;

    function say(msg, bad) { status.textContent = msg; status.classList.toggle("sm-scn-bad", !!bad); }
    function toggle(open) {
      form.hidden = !open;
      openBtn.setAttribute("aria-expanded", open ? "true" : "false");
    }
    openBtn.addEventListener("click", function () { toggle(form.hidden); });

    function list(wanted) {
      state.token = tokenIn.value.trim();
      if (!state.token) { say("请先输入规划令牌", true); return Promise.resolve(); }
      storeToken(state.token);
      say("正在读取方案…");
      return get(api + "/scenarios", state.token).then(function (body) {
        var mine = body.scenarios.filter(function (s) {
          return s.region_code.indexOf(cfg.region) === 0 || cfg.region.indexOf(s.region_code) === 0;
        });
        select.innerHTML = mine.length ? "" : '<option value="">本区域还没有方案</option>';
        mine.forEach(function (s) {
          var o = document.createElement("option");
          o.value = s.id;
          o.textContent = s.name + "（" + (s.updated_at || s.created_at || "").slice(0, 10) + "）";
          select.appendChild(o);
        });
        select.disabled = showBtn.disabled = !mine.length;
        if (wanted && mine.some(function (s) { return String(s.id) === String(wanted); })) { select.value = wanted; }
        say(mine.length ? "共 " + mine.length + " 个方案" : "本区域还没有方案（用 POST /api/v1/scenarios 保存）");
        return mine.length ? select.value : null;
      }).catch(function (e) { say(e.message, true); });
    }
    function load() {
      return list(state.wanted).then(function (id) {
        if (state.wanted && id === state.wanted) { state.wanted = null; return show(id); }
      });
    }
    form.addEventListener("submit", function (ev) { ev.preventDefault(); load(); });
    showBtn.addEventListener("click", function () { if (select.value) { show(select.value); } });

    // ------------------------------------------------------------ the split
    function closeSplit() {
      if (!state.other) { return; }
      map.off("move", state.follow);
      state.other.remove();
      state.other = null;
      map.options.zoomSnap = 1;
      var pane = document.getElementById("sm-scn-map");
      if (pane) { pane.parentNode.removeChild(pane); }
      document.body.classList.remove("sm-split");
      var t = root.querySelector(".sm-side-title");
      if (t) { t.parentNode.removeChild(t); }
      map.invalidateSize();
    }

    function title(m, text, cls) {
      var c = L.control({ position: "topright" });
      c.onAdd = function () {
        var d = L.DomUtil.create("div", "sm-side-title " + (cls || ""));
        d.textContent = text;
        return d;
      };
      c.addTo(m);
    }

    function show(id) {
      say("正在计算方案与今天的差别…");
      showBtn.disabled = true;
      return Promise.all([get(api + "/scenarios/" + id, state.token),
        get(api + "/scenarios/" + id + "/compare", state.token),
        get(api + "/scenarios/" + id + "/cells", state.token)]).then(function (res) {
        draw(res[0], res[1], res[2]);
        state.id = id;
        say("已打开方案：" + res[0].name);
        toggle(false);
      }).catch(function (e) { say(e.message, true); }).then(function () { showBtn.disabled = false; });
    }

    function draw(sc, cmp, cells) {
      closeSplit();
      document.body.classList.add("sm-split");
      var pane = document.createElement("div");
      pane.id = "sm-scn-map";
      pane.className = "sm-scn-map";
      pane.setAttribute("role", "region");
      pane.setAttribute("aria-label", "方案地图：" + sc.name);
      root.parentNode.appendChild(pane);
      map.invalidateSize();
      // half the room: fit the town again, in quarter zoom steps on both maps
      map.options.zoomSnap = 0.25;
      if (cfg.bounds) { map.fitBounds(cfg.bounds, { padding: [10, 10], animate: false }); }
      title(map, "今天", "sm-side-today");
      var other = state.other = L.map(pane, { zoomControl: false, attributionControl: true, zoomSnap: 0.25 });
      other.attributionControl.setPrefix(false);
      var b = cfg.basemaps[0];
      L.tileLayer(b.url, { attribution: b.attribution, subdomains: b.subdomains, maxZoom: 19,
        maxNativeZoom: b.online ? Math.min(18, b.max_zoom) : 19 }).addTo(other);
      other.setView(map.getCenter(), map.getZoom(), { animate: false });
      // one view for both maps
      var busy = false;
      function follow(a, z) {
        var f = function () {
          if (busy) { return; }
          busy = true;
          z.setView(a.getCenter(), a.getZoom(), { animate: false });
          busy = false;
        };
        a.on("move", f);
        return f;
      }
      state.follow = follow(map, other);
      follow(other, map);

      // villages by the scenario's circle coverage (the same ramp as today's)
      var rows = {};
      cmp.by_region.concat(cmp.by_grid).forEach(function (r) { rows[r.code] = r; });
      L.geoJSON(cfg.villages, {
        style: function (f) {
          var r = rows[f.properties.code];
          var share = r && r.population ? r.population_covered_scenario / r.population : null;
          return { color: "#555", weight: 1, fillOpacity: 0.55, className: "sm-area sm-area-scenario",
            fillColor: share === null ? "#ccc" : rampColour(share, cfg.ramps.coverage) };
        },
        onEachFeature: function (f, layer) {
          var r = rows[f.properties.code];
          if (!r) { return; }
          layer.bindPopup("<b>" + esc(r.name) + "</b><br>服务圈覆盖人口：" + fmt(r.population_covered_today) + " → " +
            fmt(r.population_covered_scenario) + "（" + signed(r.delta_population_covered) + " 人）<br>步行 10 分钟内：" +
            r.within_10min_pct_today.toFixed(2) + "% → " + r.within_10min_pct_scenario.toFixed(2) + "%<br>人均服务面积：" +
            r.m2_per_1000_today + " → " + r.m2_per_1000_scenario + " m²/千人");
          layer.bindTooltip(esc(r.name) + " " + signed(r.delta_population_covered) + " 人", { sticky: true });
        }
      }).addTo(other);

      // where the walk to the nearest position changes (H3 cells)
      L.geoJSON(cells, {
        style: function (f) {
          var d = f.properties.delta_minutes;
          var colour = d === null ? (f.properties.minutes_scenario === null ? "#b2182b" : "#2166ac")
            : rampColour(d, cfg.ramps.walk_delta);
          return { stroke: false, fillColor: colour, fillOpacity: 0.8, className: "sm-walk-delta" };
        },
        onEachFeature: function (f, layer) {
          var p = f.properties;
          layer.bindTooltip("步行到最近阵地：" + (p.minutes_today === null ? "不可达" : p.minutes_today + " 分钟") + " → " +
            (p.minutes_scenario === null ? "不可达" : p.minutes_scenario + " 分钟"), { sticky: true });
        }
      }).addTo(other);

      // positions after the changes, the changes marked
      var changes = (sc.changes && sc.changes.positions) || [];
      var byCode = {};
      changes.forEach(function (c) { byCode[c.code] = c; });
      var kinds = {};
      cfg.kinds.forEach(function (k) { kinds[k.kind] = k; });
      cfg.points.forEach(function (p) {
        var c = byCode[p.code];
        if (c) { c.name = c.name || p.name; c.from = [p.lat, p.lng]; }
        if (c && c.op === "close") {
          L.marker([p.lat, p.lng], { icon: L.divIcon({ className: "sm-chg sm-chg-close", html: "×", iconSize: [26, 26] }),
            title: "关闭：" + p.name, alt: "关闭：" + p.name })
            .bindTooltip("关闭：" + esc(p.name), { permanent: true, direction: "auto", className: "sm-chg-label" })
            .addTo(other);
          return;
        }
        var at = c && c.op === "move" ? [c.lat, c.lng] : [p.lat, p.lng];
        if (c && c.op === "move") {
          L.polyline([[p.lat, p.lng], at], { color: "#333", weight: 2, dashArray: "4 4" }).addTo(other);
        }
        var k = kinds[p.kind] || kinds.other;
        L.circleMarker(at, { radius: Math.max(4, k.size / 5), color: c ? "#000" : "#fff", weight: c ? 3 : 1.5,
          fillColor: k.colour, fillOpacity: 1, className: "sm-point" + (c ? " sm-chg-" + c.op : "") })
          .bindPopup("<b>" + esc(p.name) + "</b><br>" + esc(k.label) +
            (c && c.op === "move" ? "<br>方案：迁址" : "") +
            (c && c.op === "hours" ? "<br>方案：开放时间改为 " + esc(c.hours_text) : "")).addTo(other);
      });
      changes.filter(function (c) { return c.op === "add"; }).forEach(function (c) {
        L.marker([c.lat, c.lng], { icon: L.divIcon({ className: "sm-chg sm-chg-add", html: "+", iconSize: [26, 26] }),
          title: "新增：" + (c.name || c.code), alt: "新增：" + (c.name || c.code) })
          .bindTooltip("新增：" + esc(c.name || c.code), { permanent: true, direction: "auto", className: "sm-chg-label" })
          .addTo(other);
      });
      ((sc.changes && sc.changes.paths) || []).forEach(function (p) {
        L.polyline([[p.from[1], p.from[0]], [p.to[1], p.to[0]]], { color: "#1565c0", weight: 5, dashArray: "8 6",
          className: "sm-chg-path" }).bindTooltip(esc(p.name || "新增通道")).addTo(other);
      });

      title(other, "方案：" + sc.name, "sm-side-scn");
      // the differences
      var t = cmp.totals;
      var diff = L.control({ position: "bottomright" });
      diff.onAdd = function () {
        var d = L.DomUtil.create("div", "leaflet-bar sm-plegend-box sm-scn-diff");
        d.id = "sm-scn-diff";
        var ch = cmp.changes;
        var html = '<details' + (window.innerWidth > 700 ? " open" : "") +
          '><summary class="sm-ptitle">方案与今天的差别</summary><div class="sm-psum">改动：新增 ' + ch.added + "，迁址 " + ch.moved +
          "，关闭 " + ch.closed + "，调整时间 " + ch.hours + "，新增通道 " + ch.paths + "</div>";
        html += '<table class="sm-scn-table"><thead><tr><th scope="col">指标</th><th scope="col">今天</th><th scope="col">方案</th><th scope="col">差别</th></tr></thead><tbody>';
        html += "<tr><th scope=\"row\">服务圈覆盖人口</th><td>" + fmt(t.population_covered_today) + "</td><td>" + fmt(t.population_covered_scenario) +
          "</td><td>" + signed(t.delta_population_covered) + "</td></tr>";
        html += "<tr><th scope=\"row\">步行10分钟内</th><td>" + t.within_10min_pct_today.toFixed(2) + "%</td><td>" + t.within_10min_pct_scenario.toFixed(2) +
          "%</td><td>" + signed(t.delta_within_10min_pct, 2) + "</td></tr>";
        html += "<tr><th scope=\"row\">中位步行（分钟）</th><td>" + (t.median_minutes_today === null ? "—" : t.median_minutes_today) + "</td><td>" +
          (t.median_minutes_scenario === null ? "—" : t.median_minutes_scenario) + "</td><td>" +
          (t.delta_median_minutes === null ? "—" : signed(t.delta_median_minutes, 1)) + "</td></tr>";
        html += "<tr><th scope=\"row\">服务面积 m²/千人</th><td>" + t.m2_per_1000_today + "</td><td>" + t.m2_per_1000_scenario + "</td><td>" +
          signed(t.delta_m2_per_1000, 1) + "</td></tr></tbody></table>";
        var changed = cmp.by_region.filter(function (r) { return r.delta_population_covered || r.delta_within_10min_pct; })
          .sort(function (a, b) { return Math.abs(b.delta_population_covered) - Math.abs(a.delta_population_covered); });
        html += "<b>变化的村居（" + changed.length + "）</b><ul class=\"sm-scn-list\">";
        changed.slice(0, 8).forEach(function (r) {
          html += "<li>" + esc(r.name) + "：覆盖 " + signed(r.delta_population_covered) + " 人，10分钟内 " +
            signed(r.delta_within_10min_pct, 2) + " 个百分点</li>";
        });
        if (changed.length > 8) { html += "<li>另有 " + (changed.length - 8) + " 个，见导出表</li>"; }
        html += "</ul><b>步行时间有变化的地方（" + fmt(cells.cells_changed) + " / " + fmt(cells.cells) + " 个六边形格子）</b>";
        cfg.ramps.walk_delta.forEach(function (r) {
          html += '<div class="sm-prow"><i style="background:' + r.colour + '"></i>' + esc(r.label) + "</div>";
        });
        html += "<b>改动位置</b><div>";
        var ops = { add: "新增", close: "关闭", move: "迁址", hours: "调整时间" };
        changes.forEach(function (c, i) {
          html += '<button type="button" class="sm-scn-goto" data-i="' + i + '">' + ops[c.op] + "：" + esc(c.name || c.code) + "</button> ";
        });
        html += "</div>";
        var p = cmp.parameters;
        html += '<div class="sm-pnote">步行速度 ' + p.speed_kmh + " 公里/小时；服务圈 " + p.coverage_minutes + " 分钟（" +
          p.coverage_budget_m + " 米）；今天的数据不变</div>";
        html += '<div class="sm-scn-actions"><button type="button" data-fmt="csv">导出 CSV</button>' +
          '<button type="button" data-fmt="xlsx">导出 Excel</button></div></details>' +
          '<div class="sm-scn-actions"><button type="button" class="sm-scn-close">关闭对比</button></div>';
        d.innerHTML = html;
        L.DomEvent.disableClickPropagation(d);
        L.DomEvent.disableScrollPropagation(d);
        return d;
      };
      diff.addTo(other);
      var dbox = pane.querySelector("#sm-scn-diff");
      dbox.setAttribute("tabindex", "0");
      dbox.setAttribute("role", "region");
      dbox.setAttribute("aria-label", "方案与今天的差别");
      dbox.querySelector(".sm-scn-close").addEventListener("click", closeSplit);
      Array.prototype.forEach.call(dbox.querySelectorAll(".sm-scn-goto"), function (btn) {
        btn.addEventListener("click", function () {
          var c = changes[Number(btn.getAttribute("data-i"))];
          var at = c.op === "add" || c.op === "move" ? [c.lat, c.lng] : c.from;
          if (at) { other.setView(at, Math.max(other.getZoom(), 15)); }
        });
      });
      Array.prototype.forEach.call(dbox.querySelectorAll("button[data-fmt]"), function (btn) {
        btn.addEventListener("click", function () {
          var f = btn.getAttribute("data-fmt");
          get(api + "/scenarios/" + sc.id + "/compare?format=" + f, state.token, true).then(function (blob) {
            var a = document.createElement("a");
            a.href = URL.createObjectURL(blob);
            a.download = "方案对比-" + sc.id + "." + f;
            document.body.appendChild(a);
            a.click();
            setTimeout(function () { URL.revokeObjectURL(a.href); a.parentNode.removeChild(a); }, 1000);
          }).catch(function (e) { say(e.message, true); toggle(true); });
        });
      });
      pane.setAttribute("data-ready", "1");
    }

    // ?scenario=ID: open it once the token is known
    var m = /[?&]scenario=(\d+)/.exec(window.location.search);
    state.wanted = m ? m[1] : null;
    if (state.wanted) {
      toggle(true);
      if (state.token) { load(); } else { say("输入规划令牌以打开方案 " + state.wanted); }
    }
    return { show: show, list: list, close: closeSplit, state: state };
  };
})();
