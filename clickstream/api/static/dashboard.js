/* clickstream live dashboard: the page's whole behaviour.

   - The read key: taken from the URL fragment (`/#key=…`, never sent to the server), kept in
     this tab's sessionStorage, sent as the X-API-Key header; a prompt when missing or refused.
   - Figures: GET /v1/dashboard/summary?range=… every REFRESH_MS (cards, donut, funnel, error
     rate by status, top URLs and products; each figure says which layer served it).
   - Live feed: GET /v1/stream (server-sent events, read with fetch because EventSource cannot
     send a header); if the stream is unavailable, GET /v1/stats every second (recent_events).
*/
"use strict";

(function () {
  const KEY_STORAGE = "clickstream.readKey";
  const RANGE_STORAGE = "clickstream.range";
  const REFRESH_MS = 2000; // figures at most 2 s old
  const POLL_MS = 1000; // feed fallback when the stream is unavailable
  const FEED_MAX = 60; // rows shown
  // Recent events per stream message: the most the API gives (/v1/stream's limit). At 20 events/s
  // a slow tick can span more than 30 new events, and those past the message's limit never show.
  const FEED_LIMIT = 50;
  const SEEN_MAX = 1000; // event ids remembered, shown or not, so a row that scrolled off never comes back
  const STREAM_INTERVAL_S = 0.5; // the stream's tick: with the speed layer's live feed, a new event shows 1-2 s after its sending (docs/BENCHMARKS.md)
  const TYPE_COLORS = {
    page_view: "#1f6feb", click: "#2da44e", scroll: "#8c959f", search: "#bf8700",
    add_to_cart: "#8250df", remove_from_cart: "#cf222e", checkout: "#e16f24", purchase: "#0a7f64",
  };
  const STATUS_COLORS = ["#cf222e", "#e16f24", "#8250df", "#bf8700", "#6e7781", "#1f6feb"];
  const FUNNEL_LABELS = { page_view: "Page view", add_to_cart: "Add to cart", checkout: "Checkout", purchase: "Purchase" };

  const $ = (sel) => document.querySelector(sel);
  const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
  const money = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const state = { key: null, range: "1h", timer: null, generation: 0, stream: null, seen: new Set(), started: false };

  // --- the read key ---------------------------------------------------------------------

  function takeKeyFromFragment() {
    const params = new URLSearchParams(location.hash.replace(/^#/, ""));
    const key = params.get("key");
    if (key) {
      sessionStorage.setItem(KEY_STORAGE, key);
      // Drop the key from the address bar and history (the page keeps working after a reload).
      history.replaceState(null, "", location.pathname + location.search);
    }
    return sessionStorage.getItem(KEY_STORAGE);
  }

  function headers() {
    return { "X-API-Key": state.key, Accept: "application/json" };
  }

  class AuthError extends Error {}

  async function getJSON(url) {
    const res = await fetch(url, { headers: headers(), cache: "no-store" });
    if (res.status === 401 || res.status === 403) throw new AuthError(`the API refused the read key (HTTP ${res.status})`);
    if (!res.ok) throw new Error(`${url} → HTTP ${res.status}`);
    return res.json();
  }

  function askForKey(reason) {
    stop();
    sessionStorage.removeItem(KEY_STORAGE); // a refused or removed key is not tried again on reload
    state.key = null;
    $("#dashboard").hidden = true;
    $("#controls").hidden = true;
    $("#auth").hidden = false;
    $("#auth-reason").textContent = reason;
    $("#auth-example").textContent = `${location.origin}/#key=<read key>`;
    setStatus("Waiting for the read key", true);
    $("#auth-key").focus();
  }

  // --- figures ----------------------------------------------------------------------------

  async function refresh() {
    clearTimeout(state.timer);
    const generation = ++state.generation; // a newer refresh (range change) supersedes this one
    try {
      const summary = await getJSON(`/v1/dashboard/summary?range=${encodeURIComponent(state.range)}`);
      if (generation !== state.generation) return;
      render(summary);
      setStatus(`Updated ${clock(Date.now() / 1000)} UTC · ${summary.from.slice(0, 16).replace("T", " ")} → now`);
    } catch (err) {
      if (generation !== state.generation) return;
      if (err instanceof AuthError) return askForKey(`Refused: ${err.message}. Check the key and try again.`);
      setStatus(`Could not load the figures (${err.message}); retrying…`, true);
    }
    state.timer = setTimeout(refresh, REFRESH_MS);
  }

  function render(s) {
    $("#dashboard").dataset.range = s.range; // which range the figures on screen are for
    card("events", integer.format(s.cards.events.value), s.cards.events);
    card("page_views", integer.format(s.cards.page_views.value), s.cards.page_views);
    const sessions = s.cards.sessions;
    card("sessions", (sessions.approximate && sessions.value ? "≈" : "") + integer.format(sessions.value), sessions);
    card("conversion", s.cards.conversion.value == null ? "–" : Charts.pct(s.cards.conversion.value), s.cards.conversion);
    card("error_rate", s.cards.error_rate.value == null ? "–" : Charts.pct(s.cards.error_rate.value), s.cards.error_rate);
    card("revenue", money.format(s.cards.revenue.value), s.cards.revenue);

    const types = s.event_types.map((t) => ({ label: t.type, value: t.events, color: TYPE_COLORS[t.type] || "#6e7781" }));
    Charts.donut($("#types-chart"), types, { title: "Events by type", format: (v) => integer.format(v), centerLabel: "events" });
    legend($("#types-legend"), types, (v) => integer.format(v));

    const steps = s.funnel.steps.map((st) => ({ label: FUNNEL_LABELS[st.step] || st.step, value: st.value }));
    Charts.funnel($("#funnel-chart"), steps, {
      title: "Conversion funnel", format: (v) => integer.format(v),
      colors: ["#1f6feb", "#8250df", "#e16f24", "#0a7f64"],
    });
    $("#funnel-note").replaceChildren(
      text(s.funnel.basis === "sessions" ? "Sessions reaching each step. " : "Events of each step (sessions need the batch layer). "),
      badge(s.funnel.layer));

    const e = s.errors;
    const series = e.statuses.map((st, i) => ({
      label: `HTTP ${st.status}`, color: STATUS_COLORS[i % STATUS_COLORS.length],
      values: st.errors.map((n, j) => (e.events[j] ? n / e.events[j] : 0)),
    }));
    Charts.lines($("#errors-chart"), e.times, series, {
      title: `Error rate by status per ${e.granularity}`, format: Charts.pct, minMax: 0.01,
      timeLabel: (t) => axisLabel(t, e.granularity), emptyText: "No errors in this range.",
    });
    legend($("#errors-legend"), series.map((x, i) => ({ ...x, value: sum(e.statuses[i].errors) })), (v) => `${integer.format(v)} errors`);

    table($("#top-urls tbody"), s.top_urls, (r) => [r.url, integer.format(r.events), integer.format(r.errors)], "No page URLs yet.");
    table($("#top-products tbody"), s.top_products, (r) => [r.product, integer.format(r.events), money.format(r.revenue)], "No products yet.");

    $("#layers").replaceChildren(
      text(`Range ${s.from.slice(0, 16).replace("T", " ")} → ${s.to.slice(0, 16).replace("T", " ")} UTC. `),
      badge("batch"), text(s.layers.batch_until ? ` closed windows up to ${s.layers.batch_until.slice(0, 16).replace("T", " ")} UTC; ` : " no closed windows in this range yet; "),
      badge("speed"), text(" real-time counters after that."));
  }

  function card(name, value, figure) {
    const node = document.querySelector(`[data-card="${name}"]`);
    node.querySelector(".value").textContent = value;
    const meta = node.querySelector(".meta");
    const parts = [badge(figure.layer)];
    if (figure.note) parts.push(text(figure.note));
    meta.replaceChildren(...parts);
  }

  function badge(layer) {
    const span = document.createElement("span");
    const kind = layer === "batch" ? "batch" : layer === "speed" ? "speed" : "mixed";
    span.className = `layer ${kind}`;
    span.textContent = layer || "–";
    span.title = { batch: "Served by the batch layer (exact, closed windows)",
      speed: "Served by the speed layer (real-time counters)",
      mixed: "Batch layer for closed windows, speed layer after" }[kind];
    return span;
  }

  function legend(ul, items, format) {
    ul.replaceChildren(...items.map((item) => {
      const li = document.createElement("li");
      const sw = document.createElement("span");
      sw.className = "swatch";
      sw.style.background = item.color;
      sw.setAttribute("aria-hidden", "true");
      const label = document.createElement("span");
      label.className = "label";
      label.textContent = item.label;
      const n = document.createElement("span");
      n.className = "n";
      n.textContent = format(item.value);
      li.append(sw, label, n);
      return li;
    }));
  }

  function table(tbody, rows, cells, emptyText) {
    if (!rows.length) {
      const tr = document.createElement("tr");
      const td = document.createElement("td");
      td.colSpan = 3;
      td.className = "empty";
      td.textContent = emptyText;
      tr.append(td);
      return tbody.replaceChildren(tr);
    }
    tbody.replaceChildren(...rows.map((row) => {
      const tr = document.createElement("tr");
      cells(row).forEach((value, i) => {
        const td = document.createElement("td");
        td.textContent = value;
        td.title = value;
        if (i > 0) td.className = "num";
        tr.append(td);
      });
      return tr;
    }));
  }

  // --- live feed ----------------------------------------------------------------------------

  async function followStream() {
    const controller = new AbortController();
    state.stream = controller;
    try {
      const res = await fetch(`/v1/stream?interval=${STREAM_INTERVAL_S}&limit=${FEED_LIMIT}`, { headers: { ...headers(), Accept: "text/event-stream" }, signal: controller.signal });
      if (res.status === 401 || res.status === 403) return askForKey(`Refused: the API refused the read key (HTTP ${res.status}).`);
      if (!res.ok || !res.body || !(res.headers.get("content-type") || "").includes("text/event-stream")) {
        return pollFeed(controller.signal);
      }
      feedMode("live stream", true);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        const blocks = buffer.split(/\r?\n\r?\n/);
        buffer = blocks.pop();
        blocks.forEach(onStreamBlock);
      }
    } catch (err) {
      if (controller.signal.aborted) return;
    }
    if (!controller.signal.aborted) {
      feedMode("reconnecting", false);
      setTimeout(() => state.stream === controller && followStream(), POLL_MS);
    }
  }

  function onStreamBlock(block) {
    const data = block.split(/\r?\n/).filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trimStart()).join("\n");
    if (!data) return;
    try {
      addEvents(eventsIn(JSON.parse(data)));
    } catch (err) {
      /* a comment or keep-alive line: nothing to show */
    }
  }

  async function pollFeed(signal) {
    feedMode("polling 1 s", true);
    while (!signal.aborted) {
      try {
        addEvents(eventsIn(await getJSON("/v1/stats")));
      } catch (err) {
        if (err instanceof AuthError) return askForKey(`Refused: ${err.message}.`);
        feedMode("retrying", false);
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  /* The events carried by one stream message or a /v1/stats body, whatever its envelope. */
  function eventsIn(message) {
    if (!message || typeof message !== "object") return [];
    if (message.event_id) return [message];
    for (const field of ["recent_events", "events", "recent"]) {
      if (Array.isArray(message[field])) return message[field];
    }
    return [];
  }

  function addEvents(events) {
    const ol = $("#feed");
    const fresh = events.filter((e) => e && e.event_id && !state.seen.has(e.event_id));
    fresh.sort((a, b) => String(a.timestamp).localeCompare(String(b.timestamp)));
    for (const e of fresh) {
      state.seen.add(e.event_id);
      ol.prepend(feedItem(e, state.started));
    }
    state.started = true;
    while (ol.children.length > FEED_MAX) ol.lastElementChild.remove();
    // A Set iterates in insertion order: forget the oldest ids first.
    for (const id of state.seen) {
      if (state.seen.size <= SEEN_MAX) break;
      state.seen.delete(id);
    }
  }

  function feedItem(e, highlight) {
    const li = document.createElement("li");
    li.dataset.eventId = e.event_id;
    if (highlight) li.className = "fresh";
    const when = document.createElement("time");
    when.dateTime = e.timestamp;
    when.textContent = String(e.timestamp).slice(11, 19);
    const type = document.createElement("span");
    type.className = "type";
    type.style.color = TYPE_COLORS[e.event_type] || "#55606e";
    type.textContent = e.event_type;
    const what = document.createElement("span");
    what.className = "what";
    const price = e.price != null ? ` · ${money.format(e.price * (e.quantity || 1))} ${e.currency || ""}` : "";
    what.textContent = `${e.url || e.page || ""}${e.product_id ? ` · ${e.product_id}` : ""}${price} · ${e.user_id}`;
    what.title = what.textContent;
    const code = document.createElement("span");
    const status = e.http_status || 200;
    code.className = status >= 400 ? "code bad" : "code";
    code.textContent = status;
    li.append(when, type, what, code);
    return li;
  }

  function feedMode(label, ok) {
    const pill = $("#feed-mode");
    pill.textContent = label;
    pill.className = ok ? "pill live" : "pill";
  }

  // --- small helpers ------------------------------------------------------------------------

  function setStatus(message, isError) {
    const node = $("#status");
    node.textContent = message;
    node.classList.toggle("error", Boolean(isError));
  }

  const text = (s) => document.createTextNode(s);
  const sum = (xs) => xs.reduce((a, b) => a + b, 0);
  const clock = (t) => new Date(t * 1000).toISOString().slice(11, 19);

  function axisLabel(t, granularity) {
    const iso = new Date(t * 1000).toISOString();
    return granularity === "day" ? iso.slice(5, 10) : iso.slice(11, 16);
  }

  // --- wiring -------------------------------------------------------------------------------

  function start() {
    $("#auth").hidden = true;
    $("#dashboard").hidden = false;
    $("#controls").hidden = false;
    setStatus("Loading…");
    refresh();
    followStream();
  }

  function stop() {
    clearTimeout(state.timer);
    state.generation++; // a refresh in flight neither renders nor reschedules
    if (state.stream) state.stream.abort();
    state.stream = null;
  }

  document.addEventListener("DOMContentLoaded", () => {
    state.range = localStorage.getItem(RANGE_STORAGE) || state.range;
    $("#range").value = state.range;
    $("#range").addEventListener("change", (ev) => {
      state.range = ev.target.value;
      localStorage.setItem(RANGE_STORAGE, state.range);
      refresh();
    });
    $("#forget-key").addEventListener("click", () => {
      askForKey("The key was removed from this tab.");
    });
    $("#auth-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      state.key = $("#auth-key").value.trim();
      sessionStorage.setItem(KEY_STORAGE, state.key);
      $("#auth-key").value = "";
      start();
    });
    window.addEventListener("hashchange", () => {
      const key = takeKeyFromFragment();
      if (key && key !== state.key) {
        stop();
        state.key = key;
        start();
      }
    });
    state.key = takeKeyFromFragment();
    if (state.key) start();
    else askForKey("No read key yet: this dashboard reads the query API, which needs one.");
  });
})();
