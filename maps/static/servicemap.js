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
  /** GCJ-02 -> WGS-84 by fixed-point iteration of the forward formula (under 1 cm). */
  function gcj02ToWgs84(lng, lat) {
    if (!inChina(lng, lat)) { return [lng, lat]; }
    var w = [lng, lat];
    for (var i = 0; i < 6; i++) {
      var g = wgs84ToGcj02(w[0], w[1]);
      w = [w[0] - (g[0] - lng), w[1] - (g[1] - lat)];
    }
    return w;
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
    var c = chinaDay(date);
    var ranges = rangesOn(hours, c.iso, c.dow, calendar);
    for (var i = 0; i < ranges.length; i++) {
      if (toMinutes(ranges[i][0]) <= c.minute && c.minute < toMinutes(ranges[i][1])) { return true; }
    }
    return false;
  }
  /** China's date (ISO), weekday (0 = Sunday) and minute of the day at a Date. */
  function chinaDay(date) {
    var china = new Date(date.getTime() + 8 * 3600 * 1000);
    return { iso: china.toISOString().slice(0, 10), dow: china.getUTCDay(),
      minute: china.getUTCHours() * 60 + china.getUTCMinutes() + china.getUTCSeconds() / 60,
      midnight: Date.UTC(china.getUTCFullYear(), china.getUTCMonth(), china.getUTCDate()) - 8 * 3600 * 1000 };
  }
  /** The opening ranges ([["09:00", "17:00"], …]) of one China date, as
   *  geo.hours.intervals_on gives them. */
  function rangesOn(hours, iso, dow, calendar) {
    var holiday = !!(calendar && calendar.holidays.indexOf(iso) >= 0);
    var makeup = !!(calendar && calendar.workdays.indexOf(iso) >= 0 && (dow === 0 || dow === 6));
    if (holiday && hours.closed_on_holidays) { return []; }
    if (hours.workday) {
      if (makeup) { return hours.workday; }
      if (holiday && dow >= 1 && dow <= 5) { return []; }
    }
    if (hours.always_open) { return [["00:00", "24:00"]]; }
    return ((hours.weekly || {})[DAY_KEYS[dow]] || []).slice().sort(function (a, b) {
      return toMinutes(a[0]) - toMinutes(b[0]);
    });
  }
  /** The next opening (a Date) of a closed position within 14 days, as
   *  geo.hours.next_opening: null when open now, unknown or not within. */
  function nextOpening(hours, date, calendar) {
    if (!hours || !hours.parsed) { return null; }
    var c = chinaDay(date);
    for (var k = 0; k <= 14; k++) {
      var d = chinaDay(new Date(c.midnight + k * 86400000 + 12 * 3600 * 1000));
      var ranges = rangesOn(hours, d.iso, d.dow, calendar);
      for (var i = 0; i < ranges.length; i++) {
        var start = toMinutes(ranges[i][0]), end = toMinutes(ranges[i][1]);
        if (k === 0 && start <= c.minute && c.minute < end) { return null; }
        if (k > 0 || start >= c.minute) { return new Date(d.midnight + start * 60000); }
      }
    }
    return null;
  }

  /** The current instant; window.SM_NOW (an ISO string) pins it, e.g. for
   *  documentation screenshots and tests. */
  function now() { return window.SM_NOW ? new Date(window.SM_NOW) : new Date(); }

  // ------------------------------------------------------------- helpers
  function esc(s) {
    return String(s === null || s === undefined ? "" : s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
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
  /** "12月5日 周六 09:30–11:00" of an activity, in China time. */
  function fmtSpan(startIso, endIso) {
    var s = new Date(new Date(startIso).getTime() + 8 * 3600 * 1000);
    var e = new Date(new Date(endIso).getTime() + 8 * 3600 * 1000);
    function hm(d) { return ("0" + d.getUTCHours()).slice(-2) + ":" + ("0" + d.getUTCMinutes()).slice(-2); }
    return (s.getUTCMonth() + 1) + "月" + s.getUTCDate() + "日 周" + "日一二三四五六".charAt(s.getUTCDay()) +
      " " + hm(s) + "–" + hm(e);
  }
  /** POST a JSON body; resolves to {ok, status, body} (a problem+json body on failure). */
  function postJSON(url, body) {
    return fetch(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) })
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (b) { return { ok: r.ok, status: r.status, body: b }; });
      })
      .catch(function () { return { ok: false, status: 0, body: { detail: "网络异常，请稍后再试" } }; });
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
    var state = { service: "", hidden: {}, openOnly: false, selected: null, circle: null, me: null,
      meXY: null, query: "", shown: 8, picking: false, acts: {} };
    var points = cfg.points;
    var byCode = {};
    var root = map.getContainer();
    root.classList.add("sm-resident");
    if (cfg.embed) { root.classList.add("sm-embed"); }

    L.control.zoom({ position: "bottomright", zoomInTitle: "放大", zoomOutTitle: "缩小" }).addTo(map);
    map.attributionControl.setPrefix(false);
    // the scale bar in the words of the panels: 米 and 公里
    var scale = L.control.scale({ imperial: false, position: "bottomleft" });
    scale._updateMetric = function (maxMeters) {
      var meters = this._getRoundNum(maxMeters);
      this._updateScale(this._mScale, meters < 1000 ? meters + " 米" : (meters / 1000) + " 公里", meters / maxMeters);
    };
    scale.addTo(map);

    // ---- markers: a disc with the kind's character; the name beside it from zoom 16
    function icon(p) {
      var k = kinds[p.kind] || kinds.other;
      var s = k.size;
      return L.divIcon({
        className: "sm-pin",
        html: '<div class="sm-pin-i" data-code="' + p.code.replace(/"/g, "") + '" data-kind="' + k.kind +
          '" style="background:' + k.colour + ";width:" + s + "px;height:" + s + "px;line-height:" + s +
          "px;font-size:" + Math.round(s * 0.5) + 'px">' + k.glyph + '</div><span class="sm-pin-name">' +
          esc(p.name) + "</span>",
        iconSize: [s + 4, s + 4],
        iconAnchor: [(s + 4) / 2, (s + 4) / 2],
        popupAnchor: [0, -s / 2]
      });
    }
    var cluster = L.markerClusterGroup({
      showCoverageOnHover: false, maxClusterRadius: 45, spiderfyOnMaxZoom: true,
      disableClusteringAtZoom: 17, chunkedLoading: points.length > 5000,
      iconCreateFunction: function (c) {
        var n = c.getChildCount();
        var size = n < 10 ? "small" : (n < 100 ? "medium" : "large");
        return L.divIcon({ html: '<div><span aria-hidden="true">' + n + "</span></div>",
          className: "marker-cluster marker-cluster-" + size, iconSize: L.point(44, 44) });
      }
    });
    // clusters are buttons with a name: "12 个服务阵地，点按放大"
    cluster.on("animationend spiderfied layeradd", function () { nameClusters(); });
    map.on("zoomend moveend", function () { nameClusters(); labelZoom(); });
    function nameClusters() {
      Array.prototype.forEach.call(root.querySelectorAll(".marker-cluster"), function (e) {
        var span = e.querySelector("span");
        if (span) {
          e.setAttribute("role", "button");
          e.setAttribute("aria-label", span.textContent + " 个服务阵地，点按放大");
          e.setAttribute("title", span.textContent + " 个服务阵地");
        }
      });
    }
    function labelZoom() { root.classList.toggle("sm-names", map.getZoom() >= 16); }
    points.forEach(function (p) {
      var xy = display(p.lng, p.lat);
      var m = L.marker([xy[1], xy[0]], { icon: icon(p), title: p.name, alt: p.name, riseOnHover: true,
        zIndexOffset: (kinds[p.kind] || kinds.other).rank * 100 });
      m.feature = p;
      m.bindPopup(function () { return card(p); }, { maxWidth: Math.min(320, window.innerWidth - 30),
        autoPanPaddingTopLeft: [10, 215], autoPanPaddingBottomRight: [10, 10], className: "sm-popup",
        closeButtonLabel: "关闭" });
      m.on("popupopen", function () { select(p); fixClose(m); });
      m.on("popupclose", function () { if (state.selected === p.code) { unselect(); } });
      p.marker = m;
      byCode[p.code] = p;
    });
    map.addLayer(cluster);
    // Leaflet's close button: a named 44 px target
    function fixClose(m) {
      var b = m.getPopup().getElement().querySelector(".leaflet-popup-close-button");
      if (b) { b.setAttribute("aria-label", "关闭"); b.setAttribute("title", "关闭"); }
    }

    function openNow(p) { return isOpen(p.hours, now(), cfg.calendar); }
    function visible(p) {
      if (state.hidden[p.kind]) { return false; }
      if (state.service && (p.services || []).indexOf(state.service) < 0) { return false; }
      if (state.openOnly && openNow(p) !== true) { return false; }
      return true;
    }
    function refresh() {
      cluster.clearLayers();
      cluster.addLayers(points.filter(visible).map(function (p) { return p.marker; }));
      updateCounts();
      if (state.query) { runSearch(); }
    }

    // ---- popup card
    function stateLine(hours) {
      var open = isOpen(hours, now(), cfg.calendar);
      var text = open === null ? "开放时间未知" : (open ? "开放中" : "已关闭");
      var next = open === false ? nextOpening(hours, now(), cfg.calendar) : null;
      return { open: open, text: text, next: next ? fmtNext(next.toISOString()) + " 开放" : null };
    }
    function card(p) {
      var k = kinds[p.kind] || kinds.other;
      var st = stateLine(p.hours);
      var links = navLinks(p);
      var services = (p.service_labels || []).map(function (s) { return el("span", { "class": "sm-chip", text: s }); });
      var facts = [];
      if (p.stars) { facts.push(el("span", { "class": "sm-stars", "aria-label": p.stars + " 星级阵地", text: new Array(p.stars + 1).join("★") + " 星级阵地" })); }
      if (p.rooms) { facts.push(el("span", { text: "功能室 " + p.rooms + " 间" })); }
      if (p.floor_area_m2) { facts.push(el("span", { text: "面积 " + Math.round(p.floor_area_m2) + " 平方米" })); }
      facts.push(el("span", { "class": "sm-rating", text: p.rating !== null && p.rating !== undefined ?
        "居民评价 " + p.rating.toFixed(1) + " 分（" + p.ratings + " 人评价）" :
        (p.ratings ? "居民评价：" + p.ratings + " 人评价（满 " + cfg.ratingMinShown + " 人显示分数）" : "暂无居民评价") }));
      return el("div", { "class": "sm-card", "data-code": p.code }, [
        el("div", { "class": "sm-card-kind" }, [el("i", { "class": "sm-dot", style: "background:" + k.colour }), k.label]),
        el("div", { "class": "sm-card-name", text: p.name }),
        el("div", { "class": "sm-card-hours" }, [
          el("span", { "class": "sm-state " + (st.open === null ? "unknown" : (st.open ? "open" : "closed")), text: st.text }),
          st.next ? el("span", { "class": "sm-next", text: st.next }) : null,
          el("div", { text: p.hours_label || "" })
        ]),
        p.address ? el("div", { "class": "sm-card-addr", text: "地址：" + p.address }) : null,
        facts.length ? el("div", { "class": "sm-card-facts" }, facts) : null,
        services.length ? el("div", { "class": "sm-card-services" }, services) : null,
        p.phone ? el("a", { "class": "sm-card-phone", href: "tel:" + p.phone.replace(/[^0-9+]/g, ""),
          text: "拨打电话 " + p.phone }) : null,
        el("div", { "class": "sm-card-nav" }, [
          el("span", { text: "步行导航：" }),
          el("a", { href: links.amap, target: "_blank", rel: "noopener", "class": "sm-nav-amap", text: "高德地图" }),
          el("a", { href: links.tencent, target: "_blank", rel: "noopener", "class": "sm-nav-tencent", text: "腾讯地图" })
        ]),
        el("div", { "class": "sm-card-circle", text: "红色范围：步行" + cfg.minutes + "分钟可到达" }),
        el("div", { "class": "sm-card-acts", "data-acts": p.code }, [actsOf(p)]),
        el("div", { "class": "sm-card-do" }, [
          el("button", { type: "button", "class": "sm-btn sm-rate-open", text: "评价本阵地",
            onclick: function (ev) { ev.stopPropagation(); rateForm(p); } }),
          el("button", { type: "button", "class": "sm-btn sm-wish-open", text: "我要许愿",
            onclick: function (ev) { ev.stopPropagation(); wishForm(p); } })])
      ]);
    }
    // this week's activities at a position: fetched once per card, kept for its refreshes
    function actsOf(p) {
      var box = el("div", {}, [el("small", { text: "本周活动加载中…" })]);
      function fill(items) {
        box.innerHTML = "";
        box.appendChild(el("b", { text: items.length ? "本周活动" : "本周暂无活动" }));
        items.slice(0, 3).forEach(function (a) { box.appendChild(actLine(a, false)); });
      }
      if (state.acts[p.code]) { fill(state.acts[p.code]); return box; }
      fetch(cfg.urls.activities + "?point=" + encodeURIComponent(p.code) + "&days=7&limit=5")
        .then(function (r) { return r.ok ? r.json() : { items: [] }; })
        .then(function (b) {
          state.acts[p.code] = b.items;
          // the card grows: render it again (from the kept items) and pan it clear of the bar
          var pop = p.marker && p.marker.getPopup();
          if (pop && p.marker.isPopupOpen()) { pop.update(); pop.setLatLng(pop.getLatLng()); }
          else { fill(b.items); }
        })
        .catch(function () { box.innerHTML = ""; });
      return box;
    }
    function actLine(a, withPlace) {
      var seats = a.capacity ? (a.full ? "名额已满" : "已报名 " + a.signups + "/" + a.capacity) : "";
      return el("div", { "class": "sm-act", "data-code": a.code }, [
        el("div", { "class": "sm-act-title", text: a.title }),
        el("div", { "class": "sm-act-when", text: fmtSpan(a.starts_at, a.ends_at) }),
        withPlace ? el("div", { text: a.point_name + (a.distance_m !== null ? " · 距离约 " + fmtDistance(a.distance_m) : "") }) : null,
        seats ? el("div", { "class": "sm-act-seats", text: seats }) : null,
        el("a", { href: prefixed(a.ics), "class": "sm-ics", download: a.code + ".ics", text: "加入手机日历" })]);
    }
    function prefixed(path) { return (cfg.urls.activities.split("/api/v1/")[0] || "") + path; }

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
    /** Open a point's card; a point the filters hide is shown first (the
     *  filters that hide it are lifted and say so). */
    function open(p) {
      if (!visible(p)) {
        if (state.service && (p.services || []).indexOf(state.service) < 0) { state.service = ""; serviceSel.value = ""; }
        if (state.hidden[p.kind]) {
          state.hidden[p.kind] = false;
          var cb = root.querySelector('input[data-kind="' + p.kind + '"]');
          if (cb) { cb.checked = true; }
        }
        if (state.openOnly && openNow(p) !== true) { setOpenOnly(false); }
        refresh();
      }
      // straight to street level (no clusters from zoom 17), then the card; an
      // animated zoom of the cluster can be lost when the map is still moving
      map.stop();
      map.setView(p.marker.getLatLng(), Math.max(map.getZoom(), 17), { animate: false });
      setTimeout(function () {
        cluster.zoomToShowLayer(p.marker, function () { p.marker.openPopup(); });
      }, 0);
    }

    // ---- top bar (first in the page's order: search is the first thing a keyboard reaches)
    var bar = el("div", { "class": "sm-bar", role: "search" });
    var head = el("div", { "class": "sm-head" });
    if (!cfg.embed) { head.appendChild(el("h1", { "class": "sm-title", text: cfg.title })); }
    if (cfg.synthetic) {
      head.appendChild(el("span", { "class": "sm-badge", id: "sm-badge", title: "本图为示例数据，不代表真实位置", text: cfg.badge }));
    }
    if (head.childNodes.length) { bar.appendChild(head); }
    var search = el("input", { type: "search", id: "sm-search", placeholder: "搜索阵地、地址、服务或小区",
      "aria-label": "搜索服务阵地、地址、服务或小区", autocomplete: "off", enterkeyhint: "search" });
    var serviceSel = el("select", { id: "sm-service", "aria-label": "按服务筛选" },
      [el("option", { value: "", text: "全部服务" })].concat(cfg.services.map(function (s) {
        return el("option", { value: s.value, text: s.label });
      })));
    var openBtn = el("button", { type: "button", id: "sm-open-now", "class": "sm-toggle", "aria-pressed": "false",
      text: "只看开放中" });
    var locate = el("button", { type: "button", id: "sm-locate", "class": "sm-btn", title: "查找离我最近的服务阵地", text: "附近" });
    bar.appendChild(el("div", { "class": "sm-row" }, [search, locate]));
    bar.appendChild(el("div", { "class": "sm-row" }, [serviceSel, openBtn]));
    var actsBtn = el("button", { type: "button", id: "sm-acts", "class": "sm-btn sm-btn-light", text: "本周活动",
      onclick: function () { nearActs(); } });
    var wishBtn = el("button", { type: "button", id: "sm-wish", "class": "sm-btn sm-btn-light", text: "我要许愿",
      onclick: function () { wishForm(null); } });
    bar.appendChild(el("div", { "class": "sm-row" }, [actsBtn, wishBtn]));
    var results = el("div", { "class": "sm-results", id: "sm-results", hidden: "hidden", role: "region", "aria-label": "搜索结果" });
    bar.appendChild(results);
    // before the map in the page: the first Tab reaches the search box, not the map
    root.parentNode.insertBefore(bar, root);
    L.DomEvent.disableClickPropagation(bar);
    L.DomEvent.disableScrollPropagation(bar);

    function setOpenOnly(on) {
      state.openOnly = on;
      openBtn.setAttribute("aria-pressed", on ? "true" : "false");
      openBtn.textContent = on ? "✓ 只看开放中" : "只看开放中";
    }
    openBtn.addEventListener("click", function () { setOpenOnly(!state.openOnly); refresh(); });

    // search: names, addresses, services and kinds of positions; compounds and villages as "my place"
    var serviceWords = {};
    cfg.services.forEach(function (s) { serviceWords[s.value] = s.label; });
    function matches(p, q) {
      var k = (kinds[p.kind] || kinds.other).label;
      return [p.name, p.address, k].concat(p.service_labels || []).some(function (t) {
        return (t || "").toLowerCase().indexOf(q) >= 0;
      });
    }
    function runSearch() {
      var q = state.query;
      results.innerHTML = "";
      if (!q) { results.hidden = true; return; }
      var found = points.filter(function (p) { return visible(p) && matches(p, q); });
      if (state.meXY) {
        found.sort(function (a, b) { return crow(a) - crow(b); });
      }
      found.slice(0, state.shown).forEach(function (p) {
        var st = stateLine(p.hours);
        var k = kinds[p.kind] || kinds.other;
        results.appendChild(el("button", { type: "button", "class": "sm-result", "data-code": p.code,
          onclick: function () { results.hidden = true; search.blur(); open(p); } }, [
          el("b", { text: p.name }),
          el("small", { text: k.label + (p.address ? " · " + p.address : "") +
            (state.meXY ? " · 直线约 " + fmtDistance(crow(p)) : "") }),
          el("small", { "class": "sm-state " + (st.open === null ? "unknown" : (st.open ? "open" : "closed")),
            text: st.text + (st.next ? "，" + st.next : "") })]));
      });
      if (found.length > state.shown) {
        results.appendChild(el("button", { type: "button", "class": "sm-more",
          text: "显示更多（还有 " + (found.length - state.shown) + " 个）",
          onclick: function () { state.shown += 20; runSearch(); } }));
      }
      var places = (cfg.places || []).filter(function (x) { return (x[1] || "").toLowerCase().indexOf(q) >= 0; }).slice(0, 5);
      places.forEach(function (x) {
        results.appendChild(el("button", { type: "button", "class": "sm-result sm-place",
          onclick: function () { results.hidden = true; search.blur(); setMe(x[2], x[3], x[1]); } }, [
          el("b", { text: x[1] }),
          el("small", { text: (x[0] === "compound" ? "小区" : "村（社区）") + " · 设为我的位置，查找附近阵地" })]));
      });
      if (!found.length && !places.length) {
        results.appendChild(el("div", { "class": "sm-empty", text: "没有找到“" + search.value.trim() + "”" +
          (state.service || state.openOnly ? "（已按筛选条件过滤）" : "") }));
      }
      results.hidden = false;
    }
    search.addEventListener("input", function () {
      state.query = search.value.trim().toLowerCase();
      state.shown = 8;
      runSearch();
    });
    if (cfg.service) { serviceSel.value = cfg.service; state.service = serviceSel.value; }
    serviceSel.addEventListener("change", function () { state.service = serviceSel.value; refresh(); });

    // ---- legend (kinds, toggles)
    var legend = L.control({ position: "bottomleft" });
    var counts = {};
    legend.onAdd = function () {
      var box = el("div", { "class": "sm-legend leaflet-bar", id: "sm-legend" });
      var toggle = el("button", { type: "button", "class": "sm-legend-toggle", "aria-expanded": "false", text: "图例" });
      var list = el("div", { "class": "sm-legend-list" });
      cfg.kinds.forEach(function (k) {
        if (!points.some(function (p) { return p.kind === k.kind; })) { return; }
        var cb = el("input", { type: "checkbox", checked: "checked", "data-kind": k.kind });
        cb.addEventListener("change", function () { state.hidden[k.kind] = !cb.checked; refresh(); });
        counts[k.kind] = el("span", { "class": "sm-count" });
        list.appendChild(el("label", { "class": "sm-legend-item" }, [cb,
          el("span", { "class": "sm-legend-icon", style: "background:" + k.colour, "aria-hidden": "true", text: k.glyph }),
          el("span", { text: k.label }), counts[k.kind]]));
      });
      list.appendChild(el("div", { "class": "sm-legend-item" }, [
        el("span", { "class": "sm-legend-swatch", style: "background:" + cfg.circle.fill + ";border-color:" + cfg.circle.stroke }),
        el("span", { text: "点选阵地后显示步行" + cfg.minutes + "分钟范围" })]));
      toggle.addEventListener("click", function () {
        box.classList.toggle("sm-open");
        toggle.setAttribute("aria-expanded", box.classList.contains("sm-open") ? "true" : "false");
      });
      if (window.innerWidth >= 700) { box.classList.add("sm-open"); toggle.setAttribute("aria-expanded", "true"); }
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

    // ---- nearest to me (walking distance from /api/v1/nearest)
    var panel = el("div", { "class": "sm-panel", id: "sm-panel", hidden: "hidden", role: "region", "aria-label": "附近的服务阵地" });
    root.appendChild(panel);
    L.DomEvent.disableClickPropagation(panel);
    L.DomEvent.disableScrollPropagation(panel);
    function showPanel(title, items) {
      panel.innerHTML = "";
      panel.appendChild(el("div", { "class": "sm-panel-head" }, [el("b", { text: title }),
        el("button", { type: "button", "class": "sm-close", "aria-label": "关闭", text: "×",
          onclick: function () { panel.hidden = true; stopPicking(); } })]));
      panel.classList.remove("sm-panel-form");
      items.forEach(function (i) { panel.appendChild(i); });
      panel.hidden = false;
    }
    function crow(p) {
      var a = state.meXY, r = Math.PI / 180;
      var x = (p.lng - a[0]) * Math.cos(a[1] * r) * 111320, y = (p.lat - a[1]) * 110540;
      return Math.sqrt(x * x + y * y);
    }
    // without a location: tap the map, or name a compound or village
    function fallback(why) {
      showPanel(why, [
        el("p", { text: "您可以：" }),
        // after this click: the panel it sits in is rebuilt, and Leaflet would
        // take the click of a button no longer in the page for a tap on the map
        el("button", { type: "button", "class": "sm-btn sm-pick", text: "在地图上点一下我的位置",
          onclick: function (ev) { ev.stopPropagation(); setTimeout(startPicking, 0); } }),
        el("p", { text: "或在上方搜索框输入您的小区或村（社区）名称，点“设为我的位置”。" })]);
    }
    function startPicking() {
      state.picking = true;
      root.classList.add("sm-picking");
      showPanel("请在地图上点一下您的位置", [el("p", { text: "点选后将按步行距离查找最近的服务阵地。" })]);
    }
    function stopPicking() { state.picking = false; root.classList.remove("sm-picking"); }
    map.on("click", function (e) {
      if (!state.picking) { return; }
      stopPicking();
      var ll = e.latlng;
      // the map shows GCJ-02 over a Chinese basemap: back to WGS-84 for the API
      var w = cfg.crs === "gcj02" ? gcj02ToWgs84(ll.lng, ll.lat) : [ll.lng, ll.lat];
      setMe(w[0], w[1], "我点选的位置");
    });
    locate.addEventListener("click", function () {
      if (!window.isSecureContext || !navigator.geolocation) {
        fallback("此网页不是安全连接（HTTPS），浏览器无法提供您的位置");
        return;
      }
      showPanel("正在定位…", []);
      map.locate({ setView: false, enableHighAccuracy: true, timeout: 10000, maximumAge: 60000 });
    });
    map.on("locationerror", function (e) {
      fallback(e && e.code === 1 ? "您没有允许本网页使用定位" : "暂时无法获取您的位置");
    });
    map.on("locationfound", function (e) { setMe(e.latlng.lng, e.latlng.lat, "我的位置"); });   // WGS-84

    function setMe(lng, lat, label) {
      var xy = display(lng, lat);
      state.meXY = [lng, lat];
      if (state.me) { map.removeLayer(state.me); }
      state.me = L.circleMarker([xy[1], xy[0]], { radius: 9, color: "#fff", weight: 3, fillColor: "#1a73e8",
        fillOpacity: 1, className: "sm-me" }).bindTooltip(label).addTo(map);
      showPanel("正在查找最近的服务阵地…", []);
      // the filter on the map is the filter of the search: service and open
      // now on the server, hidden kinds by asking for more and keeping the visible ones
      var hiddenKinds = Object.keys(state.hidden).some(function (k) { return state.hidden[k]; });
      var q = "?lng=" + lng.toFixed(7) + "&lat=" + lat.toFixed(7) + "&crs=wgs84&k=" +
        (hiddenKinds ? 50 : cfg.nearestK) + (state.service ? "&service=" + encodeURIComponent(state.service) : "") +
        (state.openOnly ? "&open_now=true" : "");
      fetch(cfg.urls.nearest + q)
        .then(function (r) { return r.json().then(function (b) { return { ok: r.ok, body: b }; }); })
        .then(function (res) {
          if (!res.ok) {
            showPanel("附近没有服务阵地", [el("p", { text: "这个位置不在本地图的服务范围内。" })]);
            return;
          }
          var bounds = L.latLngBounds([[xy[1], xy[0]]]);
          var found = res.body.features.filter(function (f) {
            var p = byCode[f.properties.code];
            return !p || visible(p);
          }).slice(0, cfg.nearestK);
          if (!found.length) {
            showPanel("附近没有符合筛选条件的服务阵地", [el("p", { text: "请更换服务类型，或取消“只看开放中”。" })]);
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
                  "已关闭" + (q.next_open ? "，" + fmtNext(q.next_open) + " 开放" : "")) })]);
          });
          showPanel("离" + label + "最近的服务阵地", items);
          map.fitBounds(bounds, { padding: [40, 40], maxZoom: 16 });
        })
        .catch(function () { showPanel("查询失败", [el("p", { text: "网络异常，请稍后再试。" })]); });
    }

    // ---- this week's activities near me (or near the map's centre)
    function nearActs() {
      var at = state.meXY;
      if (!at) {
        var c = map.getCenter();
        at = cfg.crs === "gcj02" ? gcj02ToWgs84(c.lng, c.lat) : [c.lng, c.lat];
      }
      showPanel("正在查找本周活动…", []);
      fetch(cfg.urls.activities + "?near=" + at[0].toFixed(6) + "," + at[1].toFixed(6) + "&days=7&limit=20")
        .then(function (r) { return r.ok ? r.json() : { items: [] }; })
        .then(function (b) {
          if (!b.items.length) {
            showPanel("本周附近暂无活动", [el("p", { text: "未来 7 天内，附近的服务阵地没有安排活动。" })]);
            return;
          }
          showPanel((state.meXY ? "我附近" : "地图中心附近") + "的本周活动（" + b.items.length + " 场）",
            b.items.map(function (a) {
              var line = actLine(a, true);
              var p = byCode[a.point_code];
              if (p) {
                line.appendChild(el("button", { type: "button", "class": "sm-linkbtn", text: "查看阵地",
                  onclick: function () { panel.hidden = true; open(p); } }));
              }
              return line;
            }));
        })
        .catch(function () { showPanel("查询失败", [el("p", { text: "网络异常，请稍后再试。" })]); });
    }

    // ---- forms of residents: a phone confirmed by a one-time code
    function field(label, input, hint) {
      var id = "sm-f-" + input.getAttribute("name");
      input.id = id;
      return el("div", { "class": "sm-field" }, [el("label", { "for": id, text: label }), input,
        hint ? el("small", { "class": "sm-hint", text: hint }) : null,
        el("small", { "class": "sm-field-error", "data-for": input.getAttribute("name"), role: "alert" })]);
    }
    function otpFields(purpose, status) {
      var phone = el("input", { name: "phone", type: "tel", inputmode: "numeric", autocomplete: "tel",
        maxlength: "20", placeholder: "11 位手机号" });
      var code = el("input", { name: "code", type: "text", inputmode: "numeric", autocomplete: "one-time-code",
        maxlength: "6", placeholder: "6 位验证码" });
      var send = el("button", { type: "button", "class": "sm-btn sm-send-code", text: "获取验证码" });
      send.addEventListener("click", function (ev) {
        ev.preventDefault();
        send.disabled = true;
        postJSON(cfg.urls.codes, { phone: phone.value, purpose: purpose }).then(function (res) {
          if (res.ok) {
            status.textContent = "验证码已发送至 " + res.body.phone + "，" + Math.round(res.body.expires_in_s / 60) + " 分钟内有效";
            var left = 60;
            var t = setInterval(function () {
              left -= 1;
              send.textContent = left > 0 ? left + " 秒后重发" : "获取验证码";
              if (left <= 0) { clearInterval(t); send.disabled = false; }
            }, 1000);
            code.focus();
          } else {
            send.disabled = false;
            status.textContent = problemText(res.body);
          }
        });
      });
      return [field("手机号（仅工作人员可见，不会公开）", phone),
        el("div", { "class": "sm-field sm-code-row" }, [
          el("label", { "for": "sm-f-code", text: "短信验证码" }),
          el("div", { "class": "sm-row" }, [code, send]),
          el("small", { "class": "sm-field-error", "data-for": "code", role: "alert" })])];
    }
    function problemText(b) {
      var errs = (b && b.errors) || [];
      return (b && b.detail) || (errs.length ? errs[0].message : "提交失败，请稍后再试");
    }
    function showProblem(form, status, b) {
      Array.prototype.forEach.call(form.querySelectorAll(".sm-field-error"), function (e) { e.textContent = ""; });
      Array.prototype.forEach.call(form.querySelectorAll("[aria-invalid]"), function (e) { e.removeAttribute("aria-invalid"); });
      ((b && b.errors) || []).forEach(function (e) {
        var name = String(e.field || "").split(".").pop();
        var slot = form.querySelector('.sm-field-error[data-for="' + name + '"]');
        var input = form.querySelector('[name="' + name + '"]');
        if (slot) { slot.textContent = e.message + (e.expected ? "（应为：" + e.expected + "）" : ""); }
        if (input) { input.setAttribute("aria-invalid", "true"); }
      });
      status.textContent = problemText(b);
    }
    function wishForm(p) {
      var status = el("p", { "class": "sm-status", role: "status", "aria-live": "polite" });
      var title = el("input", { name: "title", type: "text", maxlength: "60", placeholder: "例如：希望有人教我用智能手机" });
      var cat = el("select", { name: "category" }, cfg.categories.map(function (c) {
        return el("option", { value: c.value, text: c.label });
      }));
      cat.value = "other";
      var text = el("textarea", { name: "text", maxlength: "500", rows: "3", placeholder: "可以写得更详细（选填）" });
      var who = el("input", { name: "name", type: "text", maxlength: "30", placeholder: "如：陈阿姨（选填）" });
      var form = el("form", { "class": "sm-form sm-wish-form", novalidate: "novalidate" }, [
        el("p", { text: p ? "向“" + p.name + "”许一个微心愿，村（社区）审核后由党员认领帮您实现。"
          : "许一个微心愿，村（社区）审核后由党员认领帮您实现。" }),
        field("心愿（60 字以内）", title), field("类别", cat), field("详细说明", text),
        field("怎么称呼您", who)].concat(otpFields("wish", status)).concat([
        el("button", { type: "submit", "class": "sm-btn sm-submit", text: "提交心愿" }), status,
        el("a", { href: cfg.urls.wall, "class": "sm-wall-link", text: "看看大家的心愿墙" })]));
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        var body = { title: title.value, category: cat.value, phone: form.phone.value, code: form.code.value };
        if (text.value.trim()) { body.text = text.value; }
        if (who.value.trim()) { body.name = who.value; }
        if (p) { body.point = p.code; } else if (state.meXY) { body.lng = state.meXY[0]; body.lat = state.meXY[1]; }
        else { body.region = cfg.region; }
        status.textContent = "正在提交…";
        postJSON(cfg.urls.wishes, body).then(function (res) {
          if (!res.ok) { showProblem(form, status, res.body); return; }
          showPanel("心愿已提交", [
            el("p", { "class": "sm-done", text: "您的心愿编号：" + res.body.code }),
            el("p", { text: res.body.message }),
            el("a", { href: cfg.urls.wall, "class": "sm-wall-link", text: "看看大家的心愿墙" })]);
        });
      });
      map.closePopup();
      showPanel("我要许愿", [form]);
      panel.classList.add("sm-panel-form");
      title.focus();
    }
    function rateForm(p) {
      var status = el("p", { "class": "sm-status", role: "status", "aria-live": "polite" });
      var chosen = 0;
      var stars = el("div", { "class": "sm-stars-pick", role: "radiogroup", "aria-label": "打分（1 到 5 星）" });
      var buttons = [1, 2, 3, 4, 5].map(function (n) {
        var b = el("button", { type: "button", role: "radio", "aria-checked": "false", "aria-label": n + " 星",
          "class": "sm-star", "data-score": String(n), text: "★" });
        b.addEventListener("click", function () {
          chosen = n;
          buttons.forEach(function (x, i) {
            x.setAttribute("aria-checked", i + 1 === n ? "true" : "false");
            x.classList.toggle("on", i < n);
          });
          said.textContent = ["", "很不满意", "不满意", "一般", "满意", "非常满意"][n];
        });
        stars.appendChild(b);
        return b;
      });
      var said = el("span", { "class": "sm-star-word" });
      var comment = el("textarea", { name: "comment", maxlength: "200", rows: "2", placeholder: "意见建议（选填，只给工作人员看）" });
      var form = el("form", { "class": "sm-form sm-rate-form", novalidate: "novalidate" }, [
        el("p", { text: "为“" + p.name + "”打分：" }), stars, said,
        el("small", { "class": "sm-field-error", "data-for": "score", role: "alert" }),
        field("意见建议", comment)].concat(otpFields("rating", status)).concat([
        el("button", { type: "submit", "class": "sm-btn sm-submit", text: "提交评价" }), status]));
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        if (!chosen) { status.textContent = "请先点星星打分"; return; }
        var body = { score: chosen, phone: form.phone.value, code: form.code.value };
        if (comment.value.trim()) { body.comment = comment.value; }
        status.textContent = "正在提交…";
        postJSON(cfg.urls.points + "/" + encodeURIComponent(p.code) + "/ratings", body).then(function (res) {
          if (!res.ok) { showProblem(form, status, res.body); return; }
          p.ratings = res.body.ratings;
          p.rating = res.body.rating;
          showPanel("感谢您的评价", [el("p", { "class": "sm-done", text: "您为“" + p.name + "”打了 " + chosen + " 星。" }),
            el("p", { text: res.body.rating !== null ? "该阵地目前居民评价 " + res.body.rating.toFixed(1) + " 分（" +
              res.body.ratings + " 人评价）。" : "该阵地目前有 " + res.body.ratings + " 人评价。" }),
            el("p", { text: "每个手机号每季度可评价一次。" })]);
        });
      });
      map.closePopup();
      showPanel("评价本阵地", [form]);
      panel.classList.add("sm-panel-form");
    }

    refresh();
    labelZoom();
    var sel = cfg.selected && byCode[cfg.selected];
    if (sel) {
      var sxy = display(sel.lng, sel.lat);
      map.setView([sxy[1], sxy[0]], 17, { animate: false });
      setTimeout(function () { open(sel); }, 0);
    } else if (cfg.bounds) {
      map.fitBounds(cfg.bounds, { paddingTopLeft: [10, cfg.embed ? 160 : 190], paddingBottomRight: [10, 10] });
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
    return { cluster: cluster, points: points, select: open, state: state, cfg: cfg, setMe: setMe,
      wishForm: wishForm, rateForm: rateForm, nearActs: nearActs };
  }

  window.ServiceMap = {
    wgs84ToGcj02: wgs84ToGcj02, gcj02ToWgs84: gcj02ToWgs84, convertGeometry: convertGeometry,
    isOpen: isOpen, nextOpening: nextOpening,
    navLinks: navLinks, resident: resident, el: el
  };
})();
