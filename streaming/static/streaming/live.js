// The live session page: a reference client of the public API (docs/pages.md).
//
// 1. POST /live/token/ (session + CSRF) → a short-lived access token; renewed before it expires,
//    and every socket is then reopened with the new one (the streams close a socket whose token
//    expires: SPEC §8, 4001).
// 2. REST: the activity's timeframes (athlete and device of each row), the devices the viewer
//    owns now in this activity (the only preprocessed streams he may open).
// 3. /ws/v1/computed-data/{activity}/: {"timeframe", "data"} per update (a snapshot of each
//    first). A document is cumulative, so keeping the newest revision of each timeframe counts
//    nothing twice, however often a reconnect resends it.
// 4. /ws/v1/preprocessed-data/{device}/: packets. A reconnect sends `params.since` = the newest
//    sample timestamp seen, and samples at or before the newest seen per channel are dropped,
//    so the seam has neither a gap nor a double.
// Drawing is batched on animation frames: messages only update state.
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("live-config").textContent);
  var STALE_MS = 5000;
  var TRAIL_MS = 30000;
  var CHART_MS = 10 * 60 * 1000;
  var RENEW_AT = 0.6; // of the token's lifetime
  var FIRST_BACKLOG_MS = 60000;
  var COLORS = ["#0b6e4f", "#c2410c", "#1d4ed8", "#7c3aed", "#b91c1c", "#0e7490", "#a16207",
    "#be185d", "#4d7c0f", "#334155", "#9333ea", "#0369a1", "#15803d", "#b45309", "#6d28d9",
    "#047857", "#e11d48", "#2563eb", "#65a30d", "#c026d3", "#0f766e", "#ea580c"];

  var state = {
    token: null,
    rows: {},          // timeframe id → row
    devices: {},       // device id → {name, gnss: [[t, lat, lon, v]...], hr: [[t, bpm]...], last: {channel: ts}}
    sort: { key: "athlete", dir: 1 },
    selected: null,
    streams: {},       // key → Stream
    dirty: { table: true, field: true, chart: true },
    origin: null,      // [lat, lon] of the local projection
    received: {},      // stream key → data messages received (for the curious)
    delays: [],        // ms from computed_at to arrival, of the last 200 computed updates
  };
  window.liveState = state; // for the browser tests and the curious

  // --- token -------------------------------------------------------------------------------

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  var renewTimer = null;
  var pendingToken = null; // one request at a time, however many streams ask
  function tokenFetch() {
    if (pendingToken) return pendingToken;
    pendingToken = fetch(config.tokenUrl, {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), "Accept": "application/json" },
    }).then(function (response) {
      if (response.status === 401 || response.status === 403) {
        // Logged out (here or in another tab), or no longer a manager: retrying cannot help.
        var error = new Error(response.status === 401
          ? "Your session ended: log in again." : "Your account may not stream.");
        error.final = true;
        throw error;
      }
      if (!response.ok) throw new Error("Token request failed (" + response.status + ")");
      return response.json();
    }).then(function (body) {
      state.token = body.access_token;
      clearTimeout(renewTimer);
      renewTimer = setTimeout(tokenRenew, body.expires_in * 1000 * RENEW_AT);
      return state.token;
    }).finally(function () { pendingToken = null; });
    return pendingToken;
  }

  function tokenRenew() {
    tokenFetch().then(function () {
      Object.keys(state.streams).forEach(function (key) { state.streams[key].handoff(); });
    }, tokenFailed);
  }

  // A final failure stops every stream; another one (a network error) is retried.
  function tokenFailed(error) {
    status("error", error.message);
    if (error.final) {
      clearTimeout(renewTimer);
      Object.keys(state.streams).forEach(function (key) { state.streams[key].stop(); });
    } else {
      renewTimer = setTimeout(tokenRenew, 10000);
    }
  }

  function api(path) {
    return fetch(path, { headers: { "Authorization": "Bearer " + state.token, "Accept": "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error(path + " → " + response.status);
        return response.json();
      });
  }

  function apiAll(path) {
    var sep = path.indexOf("?") < 0 ? "?" : "&";
    var out = [];
    function page(n) {
      return api(path + sep + "limit=500&page=" + n).then(function (body) {
        out = out.concat(body.results);
        return body.next ? page(body.next) : out;
      });
    }
    return page(1);
  }

  // --- status line -------------------------------------------------------------------------

  function status(kind, detail) {
    var pill = document.getElementById("status");
    pill.dataset.state = kind;
    pill.textContent = kind === "live" ? "live" : kind === "error" ? "error" : kind + "…";
    document.getElementById("status-detail").textContent = detail || "";
  }

  // --- streams -----------------------------------------------------------------------------

  // One logical stream over successive sockets: reconnects after a drop (backoff with jitter),
  // gets a new token on 4001, stops on 4003/4004, and hands off to a new socket on renewal.
  function Stream(key, path, handlers) {
    this.key = key; this.path = path; this.handlers = handlers;
    this.socket = null; this.attempt = 0; this.stopped = false; this.authorized = false;
  }
  Stream.prototype.url = function () {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    return scheme + location.host + this.path;
  };
  Stream.prototype.open = function (onAuthorized) {
    var self = this;
    var socket = new WebSocket(this.url());
    var authorized = false;
    socket.onmessage = function (event) {
      var message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      if (!authorized) {
        if (message.message === "Authorization needed") {
          socket.send(JSON.stringify({ token: state.token, params: self.handlers.params ? self.handlers.params() : {} }));
        } else if (message.message === "Authorized") {
          authorized = true; self.attempt = 0;
          if (onAuthorized) onAuthorized(socket);
          if (self.handlers.authorized) self.handlers.authorized();
        }
        return;
      }
      if (socket !== self.socket) return; // an old socket's last words during a handoff
      state.received[self.key] = (state.received[self.key] || 0) + 1;
      self.handlers.message(message);
    };
    socket.onclose = function (event) {
      if (socket !== self.socket) return;
      self.socket = null;
      if (self.stopped) return;
      if (event.code === 4003 || event.code === 4004 || event.code === 4000) {
        self.stopped = true;
        if (self.handlers.refused) self.handlers.refused(event.code);
        return;
      }
      if (self.handlers.dropped) self.handlers.dropped(event.code);
      var delay = Math.min(10000, 500 * Math.pow(2, self.attempt++)) * (0.75 + Math.random() / 2);
      setTimeout(function () {
        if (event.code !== 4001) { self.connect(); return; }
        tokenFetch().then(function () { self.connect(); }, function (error) {
          if (error.final) { tokenFailed(error); return; }
          setTimeout(function () { self.connect(); }, delay);
        });
      }, event.code === 4001 ? 0 : delay);
    };
    return socket;
  };
  Stream.prototype.connect = function () {
    if (this.stopped) return;
    this.socket = this.open(null);
  };
  Stream.prototype.stop = function () {
    this.stopped = true;
    if (this.socket) this.socket.close(1000);
  };
  // Open a socket with the current token, switch to it once authorized, then close the old one.
  Stream.prototype.handoff = function () {
    var self = this;
    if (this.stopped || !this.socket) return;
    var old = this.socket;
    var next = this.open(function (socket) {
      self.socket = socket;
      old.close(1000);
    });
    // Until `next` is authorized `old` still delivers; then `next` (with its `since` from
    // before the switch) takes over, and what both carried is dropped as already seen.
    return next;
  };

  // --- rows (computed stream) --------------------------------------------------------------

  function rowFor(id) {
    var row = state.rows[id];
    if (!row) {
      var n = Object.keys(state.rows).length;
      row = state.rows[id] = { id: id, athlete: "Timeframe " + id, device: null, data: null,
        revision: -1, lastData: 0, lastAdvance: 0, lastTimestamp: null, color: COLORS[n % COLORS.length] };
    }
    return row;
  }

  function computedMessage(message) {
    if (message.timeframe == null || !message.data) return;
    var row = rowFor(message.timeframe);
    var data = message.data;
    if (data.revision != null && data.revision < row.revision) return; // older than what we show
    row.revision = data.revision == null ? row.revision : data.revision;
    if (data.last_timestamp != null && data.last_timestamp !== row.lastTimestamp) {
      row.lastTimestamp = data.last_timestamp;
      row.lastAdvance = Date.now();
    }
    row.data = data;
    if (data.computed_at) {
      // How long the update took from the server's commit to this page (clocks permitting).
      state.delays.push(Date.now() - Date.parse(data.computed_at));
      if (state.delays.length > 200) state.delays.shift();
    }
    if (state.selected == null) { state.selected = row.id; state.dirty.field = state.dirty.chart = true; }
    if (row.meta == null) timeframeDetails(row);
    state.dirty.table = true;
    if (state.selected === row.id) state.dirty.chart = true;
  }

  function athleteName(details) {
    var p = details && details.athlete_profile;
    var name = p ? ((p.first_name || "") + " " + (p.last_name || "")).trim() : "";
    return name || (details && details.username) || "?";
  }

  function timeframeApply(timeframe) {
    var row = rowFor(timeframe.id);
    row.meta = timeframe;
    row.athlete = athleteName(timeframe.athlete_details);
    row.device = timeframe.device;
    state.dirty.table = true;
  }

  function timeframeDetails(row) {
    row.meta = false; // asked
    api("/api/v1/timeframes/" + row.id + "/?with_athlete=true&with_device=true")
      .then(timeframeApply, function () { row.meta = null; });
  }

  function effortsCount(efforts) {
    var first = efforts && efforts.threshold_1;
    return first && first.values ? first.values.length : 0;
  }

  function currentHr(row) {
    var device = row.device != null ? state.devices[row.device] : null;
    if (device && device.hr.length) {
      var last = device.hr[device.hr.length - 1];
      if (Date.now() - device.lastSeen < STALE_MS) return last[1];
    }
    var plot = row.data && row.data.hr_plot;
    return plot && plot.length ? plot[plot.length - 1][1] : null;
  }

  function values(row) {
    var d = row.data || {};
    var hr = currentHr(row);
    var zones = d.timePerHrZone || [];
    return {
      athlete: row.athlete.toLowerCase(),
      distance: d.total_distance,
      dpm: d.distance_per_minute,
      hid: d.hid ? d.hid.distance : null,
      sprints: d.sprint ? d.sprint.count : null,
      max_speed: d.max_speed,
      acc: effortsCount(d.accelerations),
      dec: effortsCount(d.decelerations),
      hr: hr,
      hr_avg: d.hr_avg,
      hr_pct: hr != null && d.athlete_max_hr ? 100 * hr / d.athlete_max_hr : null,
      top_zone: zones.length ? zones[zones.length - 1].duration : null,
    };
  }

  function isStale(row) {
    var device = row.device != null ? state.devices[row.device] : null;
    var last = Math.max(row.lastAdvance, device ? device.lastSeen : 0);
    return row.data && row.data.status !== "final" && Date.now() - last > STALE_MS;
  }

  function fmt(value, digits) {
    if (value == null || isNaN(value)) return "–";
    // Thousands apart by a narrow no-break space, as on the report pages.
    return Number(value).toLocaleString("en-GB", { minimumFractionDigits: digits, maximumFractionDigits: digits })
      .replace(/,/g, "\u202f");
  }

  function clock(seconds) {
    if (seconds == null) return "–";
    var s = Math.round(seconds);
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }

  function cell(key, value, shown) {
    var raw = value == null ? "" : String(value);
    return '<td class="num" data-col="' + key + '" data-value="' + raw + '">' + shown + "</td>";
  }

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function tableDraw() {
    var rows = Object.keys(state.rows).map(function (id) { return state.rows[id]; })
      .filter(function (row) { return row.data; });
    var key = state.sort.key, dir = state.sort.dir;
    var cache = {};
    rows.forEach(function (row) { cache[row.id] = values(row); });
    rows.sort(function (a, b) {
      var x = cache[a.id][key], y = cache[b.id][key];
      if (x == null && y == null) return a.id - b.id;
      if (x == null) return 1;
      if (y == null) return -1;
      return (x < y ? -1 : x > y ? 1 : a.id - b.id) * dir;
    });
    var html = rows.map(function (row) {
      var v = cache[row.id];
      var stale = isStale(row);
      var tag = stale ? '<span class="tag stale" data-stale>stale</span>'
        : row.data.status === "final" ? '<span class="tag final">final</span>' : "";
      // What the row shows is of this revision and reaches this sample (bench/pages.py compares
      // them with REST).
      return '<tr data-timeframe="' + row.id + '" data-revision="' + row.revision +
        '" data-last-timestamp="' + (row.lastTimestamp == null ? "" : row.lastTimestamp) + '" class="' + (stale ? "stale " : "") +
        (state.selected === row.id ? "selected" : "") + '">' +
        '<td data-col="athlete"><span class="swatch" style="background:' + row.color + '"></span>' +
        escapeHtml(row.athlete) + tag + "</td>" +
        cell("distance", v.distance, fmt(v.distance, 0)) +
        cell("dpm", v.dpm, fmt(v.dpm, 1)) +
        cell("hid", v.hid, fmt(v.hid, 0)) +
        cell("sprints", v.sprints, fmt(v.sprints, 0)) +
        cell("max_speed", v.max_speed, fmt(v.max_speed, 2)) +
        cell("acc", v.acc, fmt(v.acc, 0)) +
        cell("dec", v.dec, fmt(v.dec, 0)) +
        cell("hr", v.hr, fmt(v.hr, 0)) +
        cell("hr_avg", v.hr_avg, fmt(v.hr_avg, 0)) +
        cell("hr_pct", v.hr_pct, fmt(v.hr_pct, 0)) +
        cell("top_zone", v.top_zone, clock(v.top_zone)) + "</tr>";
    }).join("");
    document.querySelector("#rows tbody").innerHTML = html;
    document.getElementById("empty-hint").hidden = rows.length > 0;
    document.querySelectorAll("#rows th").forEach(function (th) {
      if (th.dataset.sort === key) th.setAttribute("aria-sort", dir > 0 ? "ascending" : "descending");
      else th.removeAttribute("aria-sort");
    });
  }

  document.querySelector("#rows thead").addEventListener("click", function (event) {
    var th = event.target.closest("th");
    if (!th) return;
    var key = th.dataset.sort;
    state.sort = { key: key, dir: state.sort.key === key ? -state.sort.dir : (key === "athlete" ? 1 : -1) };
    state.dirty.table = true;
  });
  document.querySelector("#rows tbody").addEventListener("click", function (event) {
    var tr = event.target.closest("tr");
    if (!tr) return;
    state.selected = Number(tr.dataset.timeframe);
    state.dirty.table = state.dirty.chart = state.dirty.field = true;
  });

  // --- device packets (preprocessed streams) -----------------------------------------------

  function asList(x) { return Array.isArray(x) ? x : [x]; }

  function packetsOf(message) {
    if (Array.isArray(message)) return message;
    if (message.packets) return message.packets;
    if (message.data && (message.data.gnss || message.data.ecg)) return [message.data];
    return [message];
  }

  function packetApply(device, packet) {
    var now = Date.now();
    var gnss = packet.gnss;
    if (gnss && gnss.timestamp) {
      var ts = asList(gnss.timestamp);
      var last = device.last.gnss || -Infinity;
      for (var i = 0; i < ts.length; i++) {
        if (ts[i] <= last) continue; // already seen (a resend across a reconnect)
        var speed = gnss.speed ? asList(gnss.speed)[i] : null;
        device.gnss.push([ts[i], asList(gnss.latitude)[i], asList(gnss.longitude)[i], speed]);
        last = ts[i];
        device.lastSeen = now;
      }
      device.last.gnss = last;
    }
    var ecg = packet.ecg;
    if (ecg && ecg.timestamp != null) {
      var hts = asList(ecg.timestamp), hrs = asList(ecg.hr);
      var lastHr = device.last.ecg || -Infinity;
      for (var k = 0; k < hts.length; k++) {
        if (hts[k] <= lastHr) continue;
        device.hr.push([hts[k], hrs[k]]);
        lastHr = hts[k];
        device.lastSeen = now;
      }
      device.last.ecg = lastHr;
    }
  }

  function trim(list, keepFrom) {
    var cut = 0;
    while (cut < list.length && list[cut][0] < keepFrom) cut++;
    if (cut) list.splice(0, cut);
  }

  function deviceStream(id, name) {
    var device = state.devices[id] = { id: id, name: name, gnss: [], hr: [], last: {}, lastSeen: 0 };
    var stream = new Stream("device:" + id, "/ws/v1/preprocessed-data/" + id + "/", {
      params: function () {
        // Resume after the newest sample seen; on the first connection, start a minute back
        // so the trails and the chart are not empty until new data comes.
        var seen = Math.max(device.last.gnss || -Infinity, device.last.ecg || -Infinity);
        return { since: isFinite(seen) ? seen : Date.now() - FIRST_BACKLOG_MS };
      },
      message: function (message) {
        packetsOf(message).forEach(function (packet) { packetApply(device, packet); });
        var newest = Math.max(device.last.gnss || 0, device.last.ecg || 0);
        trim(device.gnss, newest - CHART_MS);
        trim(device.hr, newest - CHART_MS);
        state.dirty.field = true;
        state.dirty.chart = true;
      },
      refused: function () { device.refused = true; },
    });
    state.streams[stream.key] = stream;
    stream.connect();
  }

  // --- positions panel ---------------------------------------------------------------------

  var canvas = document.getElementById("field");

  function project(lat, lon) {
    var R = 6371008.8, o = state.origin;
    var x = (lon - o[1]) * Math.PI / 180 * R * Math.cos(o[0] * Math.PI / 180);
    var y = (lat - o[0]) * Math.PI / 180 * R;
    return [x, y];
  }

  function niceLength(target) {
    var p = Math.pow(10, Math.floor(Math.log10(Math.max(target, 1))));
    return [5, 2, 1].map(function (f) { return f * p; }).filter(function (l) { return l <= target; })[0] || p;
  }

  var view = null; // [minX, minY, size] in metres; grows at once, shrinks slowly
  function fieldDraw() {
    var ratio = window.devicePixelRatio || 1;
    var cssWidth = canvas.clientWidth, cssHeight = canvas.clientHeight;
    if (canvas.width !== Math.round(cssWidth * ratio)) {
      canvas.width = Math.round(cssWidth * ratio);
      canvas.height = Math.round(cssHeight * ratio);
    }
    var ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, cssWidth, cssHeight);
    var trails = [];
    Object.keys(state.rows).forEach(function (id) {
      var row = state.rows[id];
      var device = row.device != null ? state.devices[row.device] : null;
      if (!device || !device.gnss.length) return;
      var newest = device.gnss[device.gnss.length - 1][0];
      var points = [];
      for (var i = device.gnss.length - 1; i >= 0 && device.gnss[i][0] >= newest - TRAIL_MS; i--) {
        var g = device.gnss[i];
        if (g[1] == null || g[2] == null) continue;
        if (!state.origin) state.origin = [g[1], g[2]];
        points.push(project(g[1], g[2]));
      }
      if (points.length) trails.push({ row: row, points: points.reverse(), stale: isStale(row) });
    });
    document.getElementById("positions-hint").hidden = trails.length > 0;
    if (!trails.length) return;
    var minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    trails.forEach(function (t) {
      t.points.forEach(function (p) {
        minX = Math.min(minX, p[0]); maxX = Math.max(maxX, p[0]);
        minY = Math.min(minY, p[1]); maxY = Math.max(maxY, p[1]);
      });
    });
    var aspect = cssWidth / cssHeight;
    var w = Math.max(maxX - minX, (maxY - minY) * aspect, 40) * 1.2;
    var cx = (minX + maxX) / 2, cy = (minY + maxY) / 2;
    if (!view || w > view[2] || w < view[2] * 0.5 ||
        Math.abs(cx - view[0]) > view[2] * 0.3 || Math.abs(cy - view[1]) > view[2] * 0.3 / aspect) {
      view = [cx, cy, w];
    }
    var scale = cssWidth / view[2];
    function toPx(p) { return [cssWidth / 2 + (p[0] - view[0]) * scale, cssHeight / 2 - (p[1] - view[1]) * scale]; }
    trails.forEach(function (t) {
      var selected = state.selected === t.row.id;
      ctx.strokeStyle = t.row.color;
      ctx.globalAlpha = t.stale ? 0.3 : 0.7;
      ctx.lineWidth = selected ? 3 : 1.5;
      ctx.beginPath();
      t.points.forEach(function (p, i) { var q = toPx(p); if (i) ctx.lineTo(q[0], q[1]); else ctx.moveTo(q[0], q[1]); });
      ctx.stroke();
      var head = toPx(t.points[t.points.length - 1]);
      ctx.globalAlpha = t.stale ? 0.4 : 1;
      ctx.fillStyle = t.row.color;
      ctx.beginPath(); ctx.arc(head[0], head[1], selected ? 7 : 5, 0, 2 * Math.PI); ctx.fill();
      ctx.fillStyle = "#16201c";
      ctx.font = (selected ? "600 " : "") + "12px system-ui, sans-serif";
      // The name goes left of the dot when it would not fit on the right.
      var label = ctx.measureText(t.row.athlete).width;
      var right = head[0] + 8 + label <= cssWidth - 4;
      ctx.fillText(t.row.athlete, right ? head[0] + 8 : head[0] - 8 - label, head[1] - 6);
    });
    ctx.globalAlpha = 1;
    // Scale bar, lower left.
    var metres = niceLength(view[2] / 5), px = metres * scale;
    ctx.strokeStyle = "#16201c"; ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.moveTo(12, cssHeight - 14); ctx.lineTo(12 + px, cssHeight - 14);
    ctx.moveTo(12, cssHeight - 19); ctx.lineTo(12, cssHeight - 9);
    ctx.moveTo(12 + px, cssHeight - 19); ctx.lineTo(12 + px, cssHeight - 9);
    ctx.stroke();
    ctx.fillStyle = "#16201c"; ctx.font = "12px system-ui, sans-serif";
    ctx.fillText(metres >= 1000 ? metres / 1000 + " km" : metres + " m", 12, cssHeight - 22);
    canvas.dataset.scale = String(metres);
    canvas.dataset.trails = String(trails.length);
  }

  // --- selected athlete's chart ------------------------------------------------------------

  var plot = null;
  function chartData(row) {
    var device = row.device != null ? state.devices[row.device] : null;
    var newest = 0;
    if (device) newest = Math.max(device.last.gnss || 0, device.last.ecg || 0);
    if (!newest && row.data && row.data.last_timestamp) newest = row.data.last_timestamp;
    var from = newest - CHART_MS;
    var seconds = {}, t;
    function slot(ms) {
      var s = Math.floor(ms / 1000);
      return seconds[s] || (seconds[s] = { n: 0, v: 0, hr: null });
    }
    if (device) {
      device.gnss.forEach(function (g) {
        if (g[0] < from || g[3] == null) return;
        var b = slot(g[0]); b.n++; b.v += g[3];
      });
      device.hr.forEach(function (h) { if (h[0] >= from) slot(h[0]).hr = h[1]; });
    } else if (row.data && row.data.hr_plot) {
      row.data.hr_plot.forEach(function (h) { if (h[0] >= from) slot(h[0]).hr = h[1]; });
    }
    var keys = Object.keys(seconds).map(Number).sort(function (a, b) { return a - b; });
    var xs = [], vs = [], hrs = [];
    for (var i = 0; i < keys.length; i++) {
      t = seconds[keys[i]];
      xs.push(keys[i]); vs.push(t.n ? t.v / t.n : null); hrs.push(t.hr);
    }
    return [xs, vs, hrs];
  }

  function chartDraw() {
    var el = document.getElementById("athlete-chart");
    var row = state.selected != null ? state.rows[state.selected] : null;
    if (!row) return;
    document.getElementById("selected-name").textContent = row.athlete;
    var data = chartData(row);
    var width = Math.max(280, el.clientWidth);
    if (!plot) {
      plot = new uPlot({
        width: width, height: 260,
        scales: { x: { time: true }, v: { range: [0, 10] }, hr: { range: [40, 210] } },
        series: [
          {},
          { label: "Speed", scale: "v", stroke: "#0b6e4f", width: 1.5, value: function (u, v) { return v == null ? "–" : v.toFixed(2) + " m/s"; } },
          { label: "HR", scale: "hr", stroke: "#c2410c", width: 1.5, value: function (u, v) { return v == null ? "–" : Math.round(v) + " bpm"; } },
        ],
        axes: [{ space: 70, values: [[60, "{HH}:{mm}", null, null, null, null, null, null, 1],
                          [1, "{HH}:{mm}:{ss}", null, null, null, null, null, null, 1]] },
               { scale: "v", label: "m/s", size: 45 }, { scale: "hr", side: 1, label: "bpm", size: 45, grid: { show: false } }],
      }, data, el);
    } else {
      if (Math.abs(plot.width - width) > 2) plot.setSize({ width: width, height: 260 });
      plot.setData(data);
    }
  }

  // --- the drawing loop --------------------------------------------------------------------

  var lastTable = 0, lastField = 0, lastChart = 0, lastStaleCheck = 0;
  function frame(now) {
    if (now - lastStaleCheck > 1000) { lastStaleCheck = now; state.dirty.table = true; }
    if (state.dirty.table && now - lastTable > 400) { lastTable = now; state.dirty.table = false; tableDraw(); }
    if (state.dirty.field && now - lastField > 200) { lastField = now; state.dirty.field = false; fieldDraw(); }
    if (state.dirty.chart && now - lastChart > 1000) { lastChart = now; state.dirty.chart = false; chartDraw(); }
    requestAnimationFrame(frame);
  }
  window.addEventListener("resize", function () { state.dirty.field = state.dirty.chart = true; });

  // --- start -------------------------------------------------------------------------------

  var activityStream = new Stream("activity", "/ws/v1/computed-data/" + config.activity + "/", {
    message: computedMessage,
    authorized: function () { status("live", ""); },
    dropped: function (code) { status("reconnecting", "connection lost (" + code + ")"); },
    refused: function (code) {
      status("error", code === 4003
        ? "You may not stream this activity: it has timeframes whose data you may not read."
        : code === 4004 ? "This activity is not visible to you." : "The server refused the request.");
    },
  });

  status("connecting", "");
  tokenFetch().then(function () {
    state.streams.activity = activityStream;
    activityStream.connect();
    apiAll("/api/v1/timeframes/?activity=" + config.activity + "&with_athlete=true&with_device=true")
      .then(function (timeframes) { timeframes.forEach(timeframeApply); })
      .catch(function (error) { status("error", error.message); });
    apiAll("/api/v1/devices/?current=true&activity=" + config.activity)
      .then(function (devices) { devices.forEach(function (d) { deviceStream(d.id, d.device_name); }); })
      .catch(function () { /* positions stay empty */ });
  }, function (error) { status("error", error.message); });
  requestAnimationFrame(frame);
})();
