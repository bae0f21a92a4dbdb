// promiseline pages: draw the overview's charts (uPlot) from the server's tables, keep the
// live figures current, and refresh a customer's page when its order moves. No numbers
// are computed here: every value comes from the server.
(function () {
  "use strict";
  const fmt = (n) => (n == null ? "–" : Math.round(n).toLocaleString("en-US"));
  const day = (s) => Date.parse(s + "T00:00:00Z") / 1000;
  const palette = ["#1f6feb", "#d97706", "#059669", "#9333ea", "#dc2626", "#0891b2", "#65a30d", "#db2777"];
  const charts = {};
  const asOf = { date: null }; // the plan's day (kpis.as_of), updated by every poll

  function width(el) { return Math.max(280, el.clientWidth || el.parentElement.clientWidth || 600); }

  // The x scale reaches the plan's day, so its line is always in sight.
  function withAsOf(u, lo, hi) {
    const x = asOf.date ? day(asOf.date) : null;
    if (x != null) { lo = lo == null ? x : Math.min(lo, x); hi = hi == null ? x : Math.max(hi, x); }
    return lo === hi ? [lo - 86400, hi + 86400] : [lo, hi];
  }

  // A dashed line at the plan's day, named at its top: left of it is history, right of it
  // the promise. The chart's element says the day it marked (data-as-of), for the tests.
  function asOfLine(u) {
    if (!asOf.date) return;
    const r = uPlot.pxRatio || 1;
    const x = Math.round(u.valToPos(day(asOf.date), "x", true));
    const { left, top, width: w, height: h } = u.bbox;
    if (x < left - 1 || x > left + w + 1) return;
    const ctx = u.ctx;
    ctx.save();
    ctx.strokeStyle = ctx.fillStyle = "#5b6575";
    ctx.lineWidth = r;
    ctx.setLineDash([5 * r, 4 * r]);
    ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, top + h); ctx.stroke();
    const late = x > left + 0.6 * w;
    ctx.font = 11 * r + "px system-ui, sans-serif";
    ctx.textAlign = late ? "right" : "left";
    ctx.textBaseline = "top";
    ctx.fillText("as of " + asOf.date, x + (late ? -4 : 4) * r, top + 3 * r);
    ctx.restore();
    u.root.parentElement.dataset.asOf = asOf.date;
  }

  function draw(id, opts, data) {
    const el = document.getElementById(id);
    if (!el) return;
    if (charts[id]) { charts[id].setData(data); return; }
    opts.width = width(el);
    opts.height = 260;
    opts.axes = opts.axes || [{}, { values: (u, vals) => vals.map(fmt), size: 70 }];
    opts.scales.x.range = withAsOf;
    opts.plugins = [{ hooks: { draw: [asOfLine] } }];
    charts[id] = new uPlot(opts, data, el);
  }

  function render(ov) {
    asOf.date = ov.kpis.as_of;
    const b = ov.backlog;
    const x = b.map((r) => day(r.date));
    const banded = b.length && b[0].backlog_p10 !== undefined;
    const series = [{}, { label: "plan: orders waiting", stroke: palette[0], width: 2, value: (u, v) => fmt(v) }];
    const data = [x, b.map((r) => r.backlog)];
    const opts = { series: series, scales: { x: { time: true } } };
    if (banded) {
      series.push({ label: "Monte Carlo P90", stroke: "#9aa6b8", dash: [4, 4], value: (u, v) => fmt(v) });
      series.push({ label: "Monte Carlo P50", stroke: "#6b7689", value: (u, v) => fmt(v) });
      series.push({ label: "Monte Carlo P10", stroke: "#9aa6b8", dash: [4, 4], value: (u, v) => fmt(v) });
      data.push(b.map((r) => r.backlog_p90), b.map((r) => r.backlog_p50), b.map((r) => r.backlog_p10));
      opts.bands = [{ series: [2, 4], fill: "rgba(31,111,235,0.10)" }];
    }
    draw("chart-backlog", opts, data);

    const m = ov.months;
    const bars = uPlot.paths && uPlot.paths.bars ? uPlot.paths.bars({ size: [0.6, 60] }) : undefined;
    draw("chart-months", {
      scales: { x: { time: true } },
      series: [{},
        { label: "capacity (slots)", stroke: "#9aa6b8", fill: "rgba(154,166,184,0.25)", paths: bars, value: (u, v) => fmt(v) },
        { label: "built", stroke: palette[0], fill: "rgba(31,111,235,0.35)", paths: bars, value: (u, v) => fmt(v) },
        { label: "delivered", stroke: palette[1], width: 2, value: (u, v) => fmt(v) }],
    }, [m.map((r) => day(r.month)), m.map((r) => r.capacity), m.map((r) => r.built), m.map((r) => r.delivered)]);

    const held = ov.held; // per week and kind of constraint, every week (zeros included)
    const weeks = [...new Set(held.map((r) => r.week))].sort();
    const names = [...new Set(held.map((r) => r.kind))].sort();
    const cell = new Map(held.map((r) => [r.week + "|" + r.kind, r.orders]));
    draw("chart-binding", {
      scales: { x: { time: true } },
      series: [{}].concat(names.map((n, i) => ({ label: n, stroke: palette[i % palette.length], value: (u, v) => fmt(v) }))),
    }, [weeks.map(day)].concat(names.map((n) => weeks.map((w) => cell.get(w + "|" + n) || 0))));

    const live = ov.live;
    if (live) {
      for (const [k, v] of Object.entries({
        "plan-age": live.plan_age_s < 120 ? Math.round(live.plan_age_s) + " s" : Math.round(live.plan_age_s / 60) + " min",
        "intake": fmt(live.taken_last_10_min),
        "booked": fmt(live.booked_since_plan),
      })) {
        const el = document.getElementById(k);
        if (el) el.textContent = v;
      }
    }
  }

  async function poll(url) {
    try {
      const r = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (r.status === 401 || r.redirected) { window.location = "/login"; return; }
      if (r.ok) render(await r.json());
    } catch (e) {
      const el = document.getElementById("live-note");
      if (el) el.textContent = "not updating: " + e;
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    const embedded = document.getElementById("overview-data");
    if (embedded) render(JSON.parse(embedded.textContent));
    const live = document.body.dataset.live;
    if (live) { poll(live); setInterval(() => poll(live), 15000); }
    const events = document.body.dataset.events;
    if (events && window.EventSource) {
      const source = new EventSource(events);
      for (const kind of ["locked", "changed", "cancelled", "scheduled", "eta_changed", "built", "shipped", "delivered"]) {
        source.addEventListener(kind, () => window.location.reload());
      }
      source.addEventListener("error", () => {});
      // the customer's own action navigates: its event must not reload the page mid-way
      document.addEventListener("submit", () => source.close());
      window.addEventListener("pagehide", () => source.close());
    }
  });
})();
