/* ServiceMap 党群服务地图 — resident map (phone first) and shared helpers.
 *
 * Data arrive in the page (config.points, WGS-84 with GCJ-02 copies); the
 * page talks only to its own server: /api/v1/isochrones (the 10-minute
 * circle of the selected point) and /api/v1/nearest (walking distance from
 * the user's location). Over a GCJ-02 basemap every overlay is shifted to
 * GCJ-02 for display (config.crs === "gcj02").
 */
(function () {
  "use strict";

  // ---------------------------------------------------------------- GCJ-02
  var A = 6378245.0, EE = 0.00669342162296594323, PI = Math.PI;
  function inChina(lng, lat) {
    return lng >= 72.004 && lng <= 137.8347 && lat >= 0.8293 && lat <= 55.8271;
  }
  function tLat(x, y) {
    var r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
    r += (20.0 * Math.sin(6.0 * x * PI) + 20.0 * Math.sin(2.0 * x * PI)) * 2.0 / 3.0;
    r += (20.0 * Math.sin(y * PI) + 40.0 * Math.sin(y / 3.0 * PI)) * 2.0 / 3.0;
    r += (160.0 * Math.sin(y / 12.0 * PI) + 320 * Math.sin(y * PI / 30.0)) * 2.0 / 3.0;
    return r;
  }
  function tLng(x, y) {
    var r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
    r += (20.0 * Math.sin(6.0 * x * PI) + 20.0 * Math.sin(2.0 * x * PI)) * 2.0 / 3.0;
    r += (20.0 * Math.sin(x * PI) + 40.0 * Math.sin(x / 3.0 * PI)) * 2.0 / 3.0;
    r += (150.0 * Math.sin(x / 12.0 * PI) + 300.0 * Math.sin(x / 30.0 * PI)) * 2.0 / 3.0;
    return r;
  }
  /** WGS-84 [lng, lat] -> GCJ-02 [lng, lat] (the published formula). */
  function wgs84ToGcj02(lng, lat) {
    if (!inChina(lng, lat)) { return [lng, lat]; }
    var dLat = tLat(lng - 105.0, lat - 35.0), dLng = tLng(lng - 105.0, lat - 35.0);
    var radLat = lat / 180.0 * PI, magic = Math.sin(radLat);
    magic = 1 - EE * magic * magic;
    var sqrtMagic = Math.sqrt(magic);
    dLat = (dLat * 180.0) / ((A * (1 - EE)) / (magic * sqrtMagic) * PI);
    dLng = (dLng * 180.0) / (A / sqrtMagic * Math.cos(radLat) * PI);
    return [lng + dLng, lat + dLat];
  }
  function convertCoords(c, fn) {
    if (typeof c[0] === "number") { return fn(c[0], c[1]); }
    return c.map(function (x) { return convertCoords(x, fn); });
  }
  /** A GeoJSON geometry with every position converted by fn(lng, lat). */
  function convertGeometry(g, fn) {
    if (!g) { return g; }
    if (g.type === "GeometryCollection") {
      return { type: g.type, geometries: g.geometries.map(function (x) { return convertGeometry(x, fn); }) };
    }
    return { type: g.type, coordinates: convertCoords(g.coordinates, fn) };
  }

  // ------------------------------------------------------------ open now
  function toMinutes(hhmm) {
    var p = hhmm.split(":");
    return parseInt(p[0], 10) * 60 + parseInt(p[1], 10);
  }
  var DAY_KEYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
  /** Whether structured hours (geo.hours) are open at a Date, China time (UTC+8, no DST).
   *  null when the hours are unknown. calendar (the page's config.calendar,
   *  geo.holidays.calendar_json) gives China's public holidays and make-up
   *  working days, as geo.hours.intervals_on reads them on the server. */
  function isOpen(hours, date, calendar) {
    if (!hours || !hours.parsed) { return null; }
    var china = new Date(date.getTime() + 8 * 3600 * 1000);
    var iso = china.toISOString().slice(0, 10);
    var dow = china.getUTCDay();
    var holiday = !!(calendar && calendar.holidays.indexOf(iso) >= 0);
    var makeup = !!(calendar && calendar.workdays.indexOf(iso) >= 0 && (dow === 0 || dow === 6));
    if (holiday && hours.closed_on_holidays) { return false; }
    var ranges = null;
    if (hours.workday) {
      if (makeup) { ranges = hours.workday; }
      else if (holiday && dow >= 1 && dow <= 5) { return false; }
    }
    if (ranges === null && hours.always_open) { return true; }
    var key = DAY_KEYS[dow];
    var minute = china.getUTCHours() * 60 + china.getUTCMinutes() + china.getUTCSeconds() / 60;
    ranges = ranges || (hours.weekly || {})[key] || [];
    for (var i = 0; i < ranges.length; i++) {
      if (toMinutes(ranges[i][0]) <= minute && minute < toMinutes(ranges[i][1])) { return true; }
    }
    return false;
  }

  /** The current instant; window.SM_NOW (an ISO string) pins it, e.g. for
   *  documentation screenshots and tests. */
  function now() { return window.SM_NOW ? new Date(window.SM_NOW) : new Date(); }

  // ------------------------------------------------------------- helpers
  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") { e.textContent = attrs[k]; }
      else if (k === "style") { e.style.cssText = attrs[k]; }
      else if (k.slice(0, 2) === "on") { e.addEventListener(k.slice(2), attrs[k]); }
      else { e.setAttribute(k, attrs[k]); }
    });
    (children || []).forEach(function (c) {
      if (c !== null && c !== undefined) { e.appendChild(typeof c === "string" ? document.createTextNode(c) : c); }
    });
    return e;
  }
  function fmtDistance(m) {
    return m >= 1000 ? (m / 1000).toFixed(1) + " 公里" : Math.round(m) + " 米";
  }
  /** "明天 09:00" / "10月8日 09:00" for an ISO instant in China time. */
  function fmtNext(iso) {
    var d = new Date(iso), n = now();
    var cd = new Date(d.getTime() + 8 * 3600 * 1000), cn = new Date(n.getTime() + 8 * 3600 * 1000);
    var hm = ("0" + cd.getUTCHours()).slice(-2) + ":" + ("0" + cd.getUTCMinutes()).slice(-2);
    var days = Math.round((Date.UTC(cd.getUTCFullYear(), cd.getUTCMonth(), cd.getUTCDate()) -
      Date.UTC(cn.getUTCFullYear(), cn.getUTCMonth(), cn.getUTCDate())) / 86400000);
    if (days === 0) { return "今天 " + hm; }
    if (days === 1) { return "明天 " + hm; }
    return (cd.getUTCMonth() + 1) + "月" + cd.getUTCDate() + "日 " + hm;
  }
  function navLinks(p) {
    var lng = p.gcj02[0].toFixed(6), lat = p.gcj02[1].toFixed(6), name = encodeURIComponent(p.name);
    return {
      amap: "https://uri.amap.com/navigation?to=" + lng + "," + lat + "," + name +
        "&mode=walk&policy=1&src=servicemap&coordinate=gaode&callnative=1",
      tencent: "https://apis.map.qq.com/uri/v1/routeplan?type=walk&to=" + name +
        "&tocoord=" + lat + "," + lng + "&referer=servicemap"
    };
  }

  // ------------------------------------------------------- resident map
  function resident(map, cfg) {
    var kinds = {};
    cfg.kinds.forEach(function (k) { kinds[k.kind] = k; });
    var display = cfg.crs === "gcj02" ? wgs84ToGcj02 : function (lng, lat) { return [lng, lat]; };
    var state = { service: "", hidden: {}, selected: null, circle: null, me: null, query: "" };
    var points = cfg.points;
    var byCode = {};
    var root = map.getContainer();
    root.classList.add("sm-resident");
    if (cfg.embed) { root.classList.add("sm-embed"); }

    L.control.zoom({ position: "bottomright", zoomInTitle: "放大", zoomOutTitle: "缩小" }).addTo(map);
    map.attributionControl.setPrefix(false);
    L.control.scale({ imperial: false, position: "bottomleft" }).addTo(map);

    // ---- markers
    function icon(p) {
      var k = kinds[p.kind] || kinds.other;
      var s = k.size;
      return L.divIcon({
        className: "sm-pin",
        html: '<div class="sm-pin-i" data-code="' + p.code.replace(/"/g, "") + '" data-kind="' + k.kind +
          '" style="background:' + k.colour + ";width:" + s + "px;height:" + s + "px;line-height:" + s +
          "px;font-size:" + Math.round(s * 0.5) + 'px">' + k.glyph + "</div>",
        iconSize: [s + 4, s + 4],
        iconAnchor: [(s + 4) / 2, (s + 4) / 2],
        popupAnchor: [0, -s / 2]
      });
    }
    var cluster = L.markerClusterGroup({
      showCoverageOnHover: false, maxClusterRadius: 45, spiderfyOnMaxZoom: true,
      disableClusteringAtZoom: 17, chunkedLoading: points.length > 5000
    });
    points.forEach(function (p) {
      var xy = display(p.lng, p.lat);
      var m = L.marker([xy[1], xy[0]], { icon: icon(p), title: p.name, alt: p.name, riseOnHover: true,
        zIndexOffset: (kinds[p.kind] || kinds.other).rank * 100 });
      m.feature = p;
      m.bindPopup(function () { return card(p); }, { maxWidth: Math.min(300, window.innerWidth - 40),
        autoPanPaddingTopLeft: [10, 110], autoPanPaddingBottomRight: [10, 10], className: "sm-popup" });
      m.on("popupopen", function () { select(p); });
      m.on("popupclose", function () { if (state.selected === p.code) { unselect(); } });
      p.marker = m;
      byCode[p.code] = p;
    });
    map.addLayer(cluster);

    function visible(p) {
      if (state.hidden[p.kind]) { return false; }
      if (state.service && (p.services || []).indexOf(state.service) < 0) { return false; }
      return true;
    }
    function refresh() {
      cluster.clearLayers();
      cluster.addLayers(points.filter(visible).map(function (p) { return p.marker; }));
      updateCounts();
    }

    // ---- popup card
    function card(p) {
      var k = kinds[p.kind] || kinds.other;
      var open = isOpen(p.hours, now(), cfg.calendar);
      var stateText = open === null ? "开放时间未知" : (open ? "开放中" : "已关闭");
      var links = navLinks(p);
      var services = (p.service_labels || []).map(function (s) { return el("span", { "class": "sm-chip", text: s }); });
      return el("div", { "class": "sm-card", "data-code": p.code }, [
        el("div", { "class": "sm-card-kind", style: "color:" + k.colour, text: k.label }),
        el("div", { "class": "sm-card-name", text: p.name }),
        el("div", { "class": "sm-card-hours" }, [
          el("span", { "class": "sm-state " + (open === null ? "unknown" : (open ? "open" : "closed")), text: stateText }),
          " ", el("span", { text: p.hours_label || "" })
        ]),
        p.address ? el("div", { "class": "sm-card-addr", text: "地址：" + p.address }) : null,
        services.length ? el("div", { "class": "sm-card-services" }, services) : null,
        p.phone ? el("div", { "class": "sm-card-phone" }, ["电话：", el("a", { href: "tel:" + p.phone.replace(/[^0-9+]/g, ""), text: p.phone })]) : null,
        el("div", { "class": "sm-card-nav" }, [
          el("span", { text: "步行导航：" }),
          el("a", { href: links.amap, target: "_blank", rel: "noopener", "class": "sm-nav-amap", text: "高德地图" }),
          el("a", { href: links.tencent, target: "_blank", rel: "noopener", "class": "sm-nav-tencent", text: "腾讯地图" })
        ]),
        el("div", { "class": "sm-card-circle", text: "红色范围：步行" + cfg.minutes + "分钟可到达" })
      ]);
    }

    // ---- the service circle of the selected point
    function select(p) {
      state.selected = p.code;
      if (state.circle) { map.removeLayer(state.circle); state.circle = null; }
      fetch(cfg.urls.isochrone + "?point=" + encodeURIComponent(p.code) + "&minutes=" + cfg.minutes)
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (f) {
          if (!f || state.selected !== p.code) { return; }
          f.geometry = convertGeometry(f.geometry, display);
          state.circle = L.geoJSON(f, { interactive: false, style: {
            color: cfg.circle.stroke, weight: cfg.circle.weight, opacity: cfg.circle.stroke_opacity,
            fillColor: cfg.circle.fill, fillOpacity: cfg.circle.fill_opacity, className: "sm-circle" } }).addTo(map);
          state.circle.bringToBack();
        })
        .catch(function () { /* the card still works without its circle */ });
    }
    function unselect() {
      state.selected = null;
      if (state.circle) { map.removeLayer(state.circle); state.circle = null; }
    }
    function open(p) {
      cluster.zoomToShowLayer(p.marker, function () { p.marker.openPopup(); });
    }

    // ---- top bar: title, search, service filter, locate
    var bar = el("div", { "class": "sm-bar" });
    if (!cfg.embed) { bar.appendChild(el("div", { "class": "sm-title", text: cfg.title })); }
    var search = el("input", { type: "search", id: "sm-search", placeholder: "搜索服务阵地名称或地址",
      "aria-label": "搜索服务阵地", autocomplete: "off" });
    var serviceSel = el("select", { id: "sm-service", "aria-label": "按服务筛选" },
      [el("option", { value: "", text: "全部服务" })].concat(cfg.services.map(function (s) {
        return el("option", { value: s.value, text: s.label });
      })));
    var locate = el("button", { type: "button", id: "sm-locate", "class": "sm-btn", title: "定位到我并查找最近的服务阵地", text: "附近" });
    bar.appendChild(el("div", { "class": "sm-row" }, [search, serviceSel, locate]));
    var results = el("div", { "class": "sm-results", id: "sm-results", hidden: "hidden" });
    bar.appendChild(results);
    root.appendChild(bar);
    L.DomEvent.disableClickPropagation(bar);
    L.DomEvent.disableScrollPropagation(bar);

    search.addEventListener("input", function () {
      state.query = search.value.trim().toLowerCase();
      results.innerHTML = "";
      if (!state.query) { results.hidden = true; return; }
      var found = points.filter(function (p) {
        return visible(p) && ((p.name || "").toLowerCase().indexOf(state.query) >= 0 ||
          (p.address || "").toLowerCase().indexOf(state.query) >= 0);
      });
      found.slice(0, 8).forEach(function (p) {
        results.appendChild(el("button", { type: "button", "class": "sm-result", "data-code": p.code,
          onclick: function () { results.hidden = true; search.blur(); open(p); } },
          [el("b", { text: p.name }), el("small", { text: (kinds[p.kind] || kinds.other).label })]));
      });
      if (!found.length) { results.appendChild(el("div", { "class": "sm-empty", text: "没有找到匹配的服务阵地" })); }
      results.hidden = false;
    });
    if (cfg.service) { serviceSel.value = cfg.service; state.service = serviceSel.value; }
    serviceSel.addEventListener("change", function () { state.service = serviceSel.value; refresh(); });

    // ---- legend (kinds, toggles) and the synthetic-data badge
    var legend = L.control({ position: "bottomleft" });
    var counts = {};
    legend.onAdd = function () {
      var box = el("div", { "class": "sm-legend leaflet-bar", id: "sm-legend" });
      var toggle = el("button", { type: "button", "class": "sm-legend-toggle", text: "图例" });
      var list = el("div", { "class": "sm-legend-list" });
      cfg.kinds.forEach(function (k) {
        if (!points.some(function (p) { return p.kind === k.kind; })) { return; }
        var cb = el("input", { type: "checkbox", checked: "checked", "data-kind": k.kind });
        cb.addEventListener("change", function () { state.hidden[k.kind] = !cb.checked; refresh(); });
        counts[k.kind] = el("span", { "class": "sm-count" });
        list.appendChild(el("label", { "class": "sm-legend-item" }, [cb,
          el("span", { "class": "sm-legend-icon", style: "background:" + k.colour, text: k.glyph }),
          el("span", { text: k.label }), counts[k.kind]]));
      });
      list.appendChild(el("div", { "class": "sm-legend-item" }, [
        el("span", { "class": "sm-legend-swatch", style: "background:" + cfg.circle.fill + ";border-color:" + cfg.circle.stroke }),
        el("span", { text: "点选阵地后显示步行" + cfg.minutes + "分钟范围" })]));
      toggle.addEventListener("click", function () { box.classList.toggle("sm-open"); });
      if (window.innerWidth >= 700) { box.classList.add("sm-open"); }
      box.appendChild(toggle); box.appendChild(list);
      L.DomEvent.disableClickPropagation(box);
      return box;
    };
    legend.addTo(map);
    function updateCounts() {
      Object.keys(counts).forEach(function (k) {
        counts[k].textContent = points.filter(function (p) { return p.kind === k && visible(p); }).length;
      });
    }
    if (cfg.synthetic) {
      root.appendChild(el("div", { "class": "sm-badge", id: "sm-badge", title: "本图为示例数据，不代表真实位置", text: cfg.badge }));
    }

    // ---- nearest to me (walking distance from /api/v1/nearest)
    var panel = el("div", { "class": "sm-panel", id: "sm-panel", hidden: "hidden" });
    root.appendChild(panel);
    L.DomEvent.disableClickPropagation(panel);
    L.DomEvent.disableScrollPropagation(panel);
    function showPanel(title, items) {
      panel.innerHTML = "";
      panel.appendChild(el("div", { "class": "sm-panel-head" }, [el("b", { text: title }),
        el("button", { type: "button", "class": "sm-close", "aria-label": "关闭", text: "×",
          onclick: function () { panel.hidden = true; } })]));
      items.forEach(function (i) { panel.appendChild(i); });
      panel.hidden = false;
    }
    locate.addEventListener("click", function () {
      showPanel("正在定位…", []);
      map.locate({ setView: false, enableHighAccuracy: true, timeout: 10000, maximumAge: 60000 });
    });
    map.on("locationerror", function () {
      showPanel("无法获取您的位置", [el("p", { text: "请允许浏览器使用定位，或在上方搜索服务阵地名称。" })]);
    });
    map.on("locationfound", function (e) {
      var lng = e.latlng.lng, lat = e.latlng.lat;   // the browser gives WGS-84
      var xy = display(lng, lat);
      if (state.me) { map.removeLayer(state.me); }
      state.me = L.circleMarker([xy[1], xy[0]], { radius: 8, color: "#fff", weight: 3, fillColor: "#1a73e8",
        fillOpacity: 1, className: "sm-me" }).bindTooltip("我的位置").addTo(map);
      showPanel("正在查找最近的服务阵地…", []);
      // the filter on the map is the filter of the search: service on the server,
      // hidden kinds by asking for more and keeping the visible ones
      var hiddenKinds = Object.keys(state.hidden).some(function (k) { return state.hidden[k]; });
      var q = "?lng=" + lng.toFixed(7) + "&lat=" + lat.toFixed(7) + "&crs=wgs84&k=" +
        (hiddenKinds ? 50 : cfg.nearestK) + (state.service ? "&service=" + encodeURIComponent(state.service) : "");
      fetch(cfg.urls.nearest + q)
        .then(function (r) { return r.json().then(function (b) { return { ok: r.ok, body: b }; }); })
        .then(function (res) {
          if (!res.ok) {
            showPanel("附近没有服务阵地", [el("p", { text: "您的位置不在本地图的服务范围内。" })]);
            return;
          }
          var bounds = L.latLngBounds([[xy[1], xy[0]]]);
          var found = res.body.features.filter(function (f) {
            var p = byCode[f.properties.code];
            return !p || visible(p);
          }).slice(0, cfg.nearestK);
          if (!found.length) {
            showPanel("附近没有符合筛选条件的服务阵地", [el("p", { text: "请更换服务类型或显示更多阵地类型。" })]);
            return;
          }
          var items = found.map(function (f) {
            var p = byCode[f.properties.code];
            var q = f.properties;
            if (p) { var d = display(p.lng, p.lat); bounds.extend([d[1], d[0]]); }
            return el("button", { type: "button", "class": "sm-result sm-nearest", "data-code": q.code,
              onclick: function () { if (p) { panel.hidden = true; open(p); } } }, [
              el("b", { text: q.name }),
              el("small", { text: "步行约 " + Math.max(1, Math.round(q.walk_minutes)) + " 分钟 · " + fmtDistance(q.walk_distance_m) +
                (q.method === "straight_line" ? "（直线距离）" : "") }),
              el("small", { "class": "sm-state " + (q.open_now === null ? "unknown" : (q.open_now ? "open" : "closed")),
                text: q.open_now === null ? "开放时间未知" : (q.open_now ? "开放中" :
                  "已关闭" + (q.next_open ? "，" + fmtNext(q.next_open) + "开放" : "")) })]);
          });
          showPanel("离我最近的服务阵地", items);
          map.fitBounds(bounds, { padding: [40, 40], maxZoom: 16 });
        })
        .catch(function () { showPanel("查询失败", [el("p", { text: "网络异常，请稍后再试。" })]); });
    });

    refresh();
    var sel = cfg.selected && byCode[cfg.selected];
    if (sel) {
      var sxy = display(sel.lng, sel.lat);
      map.setView([sxy[1], sxy[0]], 17, { animate: false });
      setTimeout(function () { open(sel); }, 0);
    } else if (cfg.bounds) {
      map.fitBounds(cfg.bounds, { paddingTopLeft: [10, cfg.embed ? 60 : 96], paddingBottomRight: [10, 10] });
    }
    // refresh the open/closed state of an open card every minute
    setInterval(function () {
      if (state.selected && byCode[state.selected]) {
        var m = byCode[state.selected].marker;
        if (m.isPopupOpen()) { m.getPopup().setContent(card(byCode[state.selected])); }
      }
    }, 60000);
    root.setAttribute("data-ready", "1");
    root.setAttribute("data-ready-ms", String(Math.round(performance.now())));
    return { cluster: cluster, points: points, select: open, state: state, cfg: cfg };
  }

  window.ServiceMap = {
    wgs84ToGcj02: wgs84ToGcj02, convertGeometry: convertGeometry, isOpen: isOpen,
    navLinks: navLinks, resident: resident, el: el
  };
})();
