/* Small inline-SVG charts for the dashboard: a donut, horizontal funnel bars and a line chart.
   No library and no network: each function replaces the content of `host` with one <svg>
   (role="img" with a text summary, so a screen reader gets the numbers, not the shapes). */
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";

  function el(name, attrs, text) {
    const node = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function svgRoot(host, width, height, label) {
    const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label,
      preserveAspectRatio: "xMidYMid meet" });
    svg.appendChild(el("title", {}, label));
    host.replaceChildren(svg);
    return svg;
  }

  function empty(host, message) {
    const p = document.createElement("p");
    p.className = "empty";
    p.textContent = message;
    host.replaceChildren(p);
  }

  /* items: [{label, value, color}] → a ring of arcs, the total in the middle. */
  function donut(host, items, opts) {
    const total = items.reduce((s, i) => s + i.value, 0);
    if (!total) return empty(host, "No events in this range yet.");
    const size = 200, r = 80, stroke = 30, c = size / 2;
    const summary = items.map((i) => `${i.label} ${opts.format(i.value)}`).join(", ");
    const svg = svgRoot(host, size, size, `${opts.title}: ${summary}`);
    let angle = -Math.PI / 2;
    for (const item of items) {
      if (!item.value) continue;
      const sweep = (item.value / total) * Math.PI * 2;
      const path = sweep >= Math.PI * 2 - 1e-6
        ? el("circle", { cx: c, cy: c, r, fill: "none", stroke: item.color, "stroke-width": stroke })
        : el("path", { d: arc(c, r, angle, angle + sweep), fill: "none", stroke: item.color, "stroke-width": stroke });
      path.appendChild(el("title", {}, `${item.label}: ${opts.format(item.value)} (${pct(item.value / total)})`));
      svg.appendChild(path);
      angle += sweep;
    }
    svg.appendChild(el("text", { x: c, y: c - 4, "text-anchor": "middle", "font-size": 22, "font-weight": 650,
      fill: "#1b2430" }, opts.format(total)));
    svg.appendChild(el("text", { x: c, y: c + 16, "text-anchor": "middle", "font-size": 12, fill: "#55606e" },
      opts.centerLabel || "total"));
  }

  function arc(c, r, a0, a1) {
    const p = (a) => `${(c + r * Math.cos(a)).toFixed(2)} ${(c + r * Math.sin(a)).toFixed(2)}`;
    const large = a1 - a0 > Math.PI ? 1 : 0;
    return `M ${p(a0)} A ${r} ${r} 0 ${large} 1 ${p(a1)}`;
  }

  /* steps: [{label, value}] → one bar per step, scaled to the first, with the share kept from
     the previous step (the drop-off is what a funnel is for). */
  function funnel(host, steps, opts) {
    const first = steps.length ? steps[0].value : 0;
    if (!first) return empty(host, "No funnel activity in this range yet.");
    const width = 420, rowH = 38, labelW = 104, height = steps.length * rowH + 4;
    const summary = steps.map((s) => `${s.label} ${opts.format(s.value)}`).join(", ");
    const svg = svgRoot(host, width, height, `${opts.title}: ${summary}`);
    steps.forEach((step, i) => {
      const y = i * rowH + 4;
      const barW = Math.max(2, ((width - labelW - 120) * step.value) / first);
      const kept = i === 0 ? "" : ` · ${pct(steps[i - 1].value ? step.value / steps[i - 1].value : 0)} of previous`;
      svg.appendChild(el("text", { x: 0, y: y + 20, "font-size": 12.5, fill: "#1b2430" }, step.label));
      svg.appendChild(el("rect", { x: labelW, y: y + 4, width: barW, height: 24, rx: 3, fill: opts.colors[i] }));
      svg.appendChild(el("text", { x: labelW + barW + 6, y: y + 20, "font-size": 12, fill: "#1b2430" },
        `${opts.format(step.value)}${kept}`));
    });
  }

  /* times: epoch seconds; series: [{label, values, color}] → lines over a shared time axis. */
  function lines(host, times, series, opts) {
    if (!times.length || !series.length) return empty(host, opts.emptyText || "No data in this range yet.");
    const width = 520, height = 200, left = 44, right = 8, top = 8, bottom = 22;
    const max = Math.max(opts.minMax || 0, ...series.flatMap((s) => s.values));
    const x = (i) => left + (times.length === 1 ? 0 : (i * (width - left - right)) / (times.length - 1));
    const y = (v) => top + (height - top - bottom) * (1 - (max ? v / max : 0));
    const latest = series.map((s) => `${s.label} ${opts.format(s.values[s.values.length - 1] || 0)}`).join(", ");
    const svg = svgRoot(host, width, height, `${opts.title}, latest: ${latest}`);
    for (const frac of [0, 0.5, 1]) {
      const v = max * frac;
      svg.appendChild(el("line", { x1: left, x2: width - right, y1: y(v), y2: y(v), stroke: "#eef1f4" }));
      svg.appendChild(el("text", { x: left - 4, y: y(v) + 4, "text-anchor": "end", "font-size": 10, fill: "#55606e" },
        opts.format(v)));
    }
    const ticks = Math.min(5, times.length);
    for (let t = 0; t < ticks; t++) {
      const i = ticks === 1 ? 0 : Math.round((t * (times.length - 1)) / (ticks - 1));
      const anchor = ticks > 1 && t === ticks - 1 ? "end" : ticks > 1 && t === 0 ? "start" : "middle";
      svg.appendChild(el("text", { x: x(i), y: height - 6, "text-anchor": anchor, "font-size": 10, fill: "#55606e" },
        opts.timeLabel(times[i])));
    }
    for (const s of series) {
      const points = s.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
      const line = el("polyline", { points, fill: "none", stroke: s.color, "stroke-width": 2,
        "stroke-linejoin": "round" });
      line.appendChild(el("title", {}, s.label));
      svg.appendChild(line);
    }
  }

  function pct(fraction) {
    return `${(fraction * 100).toFixed(fraction < 0.1 ? 1 : 0)}%`;
  }

  window.Charts = { donut, funnel, lines, pct };
})();
