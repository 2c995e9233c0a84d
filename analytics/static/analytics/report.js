// The timeframe report's two time charts (uPlot, analytics/static/vendor/uplot/), drawn from
// the downsampled series the server put in #series-data. No build step, no other dependency.
(function () {
  "use strict";
  var source = document.getElementById("series-data");
  if (!source || typeof uPlot === "undefined") return;
  var data = JSON.parse(source.textContent);
  var sync = uPlot.sync("report");
  var charts = [];

  function widthOf(el) { return Math.max(280, el.clientWidth); }

  // One or two buckets without a reading (a missed fix, a dropped packet) are joined over; a
  // longer gap (a pause, a device off) stays a gap.
  var JOIN_SECONDS = 2.5 * data.bucket_s;
  function shortGapsJoined(u, seriesIdx, idx0, idx1, nullGaps) {
    var pxPerSecond = u.bbox.width / Math.max(1, u.scales.x.max - u.scales.x.min);
    return nullGaps.filter(function (gap) { return gap[1] - gap[0] > JOIN_SECONDS * pxPerSecond; });
  }

  function chart(id, label, values, color, unit, fromZero) {
    var el = document.getElementById(id);
    var y = fromZero ? { range: function (u, min, max) { return [0, Math.max(1, max * 1.05)]; } } : {};
    var opts = {
      width: widthOf(el),
      height: 200,
      cursor: { sync: { key: sync.key }, drag: { x: true, y: false } },
      legend: { live: true },
      scales: { x: { time: true }, y: y },
      axes: [
        { space: 70, values: [[3600, "{HH}:{mm}", null, null, null, null, null, null, 1],
                   [60, "{HH}:{mm}", null, null, null, null, null, null, 1],
                   [1, "{HH}:{mm}:{ss}", null, null, null, null, null, null, 1]] },
        { label: unit, size: 50 }
      ],
      series: [
        { value: "{HH}:{mm}:{ss}" },
        { label: label, stroke: color, width: 1.25, fill: color + "18", gaps: shortGapsJoined,
          value: function (u, v) { return v == null ? "–" : v.toFixed(unit === "bpm" ? 0 : 2) + " " + unit; } }
      ],
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"); }
    };
    var plot = new uPlot(opts, [data.t, values], el);
    charts.push([plot, el]);
  }

  chart("chart-speed", "Speed", data.speed, "#0b6e4f", "m/s", true);
  chart("chart-hr", "Heart rate", data.hr, "#c2410c", "bpm", false);

  function resize() {
    charts.forEach(function (c) { c[0].setSize({ width: widthOf(c[1]), height: 200 }); });
  }
  var pending = null;
  window.addEventListener("resize", function () {
    clearTimeout(pending);
    pending = setTimeout(resize, 100);
  });
  // A4 portrait leaves ~180 mm of width: redraw the canvases to fit before printing.
  window.addEventListener("beforeprint", function () {
    charts.forEach(function (c) { c[0].setSize({ width: 680, height: 170 }); });
  });
  window.addEventListener("afterprint", resize);
  document.documentElement.dataset.chartsReady = "true";
})();
