/// `GET /` of a daemon's `--http` port: one self-contained page (inline CSS and JavaScript, no
/// external asset, so it works offline) that polls `status.json` every second and draws the
/// topology as inline SVG and each failover as a bar of its steps. Every text from the daemon
/// goes into the page through `textContent`, never as markup.
enum StatusPageHTML {
    static let page: String = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tandem status</title>
<style>
:root { --fg:#1d2330; --muted:#6b7385; --line:#d5d9e2; --bg:#f6f7f9; --card:#fff;
  --ok:#2f9e5a; --down:#d64545; --warn:#e0a100; --sdown:#e8833a; --odown:#d64545; --election:#7b61c9;
  --promotion:#2f7fd6; --switch:#2f9e5a; --vip:#0f9da8; --abort:#8a1c1c; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color:var(--fg); background:var(--bg); }
header { display:flex; gap:16px; align-items:baseline; padding:12px 20px; background:#1d2330; color:#fff; }
header h1 { margin:0; font-size:18px; }
header .meta { color:#b8bfcc; font-size:13px; }
#conn.bad { color:#ff8a8a; font-weight:600; }
main { padding:16px 20px; max-width:1000px; }
section { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:12px 16px; margin-bottom:16px; }
h2 { font-size:15px; margin:0 0 8px; }
h3 { font-size:14px; margin:8px 0 4px; }
svg text { font:12px system-ui, sans-serif; fill:var(--fg); }
svg .small { font-size:11px; fill:var(--muted); }
.box { fill:#fff; stroke:#8a93a6; stroke-width:1.5; }
.box.master { stroke:var(--ok); stroke-width:2.5; fill:#eef8f1; }
.box.down { stroke:var(--down); fill:#fdeeee; }
.box.monitor { fill:#f3f1fb; stroke:#7b61c9; }
.box.proxy { fill:#eef4fc; stroke:var(--promotion); }
.repl { stroke:var(--ok); stroke-width:2; fill:none; }
.repl.down { stroke:var(--down); stroke-dasharray:5 4; }
.watch { stroke:#b9b0e0; stroke-width:1; stroke-dasharray:3 3; fill:none; }
.vip { fill:var(--vip); }
.vip-text { fill:#fff !important; font-weight:700; }
.failover { border-top:1px solid var(--line); padding:8px 0; }
.failover:first-child { border-top:none; }
.failover .title { font-weight:600; }
.failover .sub { color:var(--muted); }
.outcome-switched { color:var(--ok); } .outcome-aborted { color:var(--down); } .outcome-running { color:var(--warn); }
ol.steps { list-style:none; padding:0; margin:6px 0 0; font:12px ui-monospace, SFMono-Regular, Menlo, monospace; }
ol.steps li { display:grid; grid-template-columns:80px 14px 260px 1fr; gap:6px; padding:1px 0; }
ol.steps .dot { width:10px; height:10px; border-radius:50%; margin-top:3px; }
ol.steps .detail { color:var(--muted); overflow:hidden; text-overflow:ellipsis; white-space:nowrap; }
.legend span { display:inline-block; margin-right:12px; font-size:12px; }
.legend i { display:inline-block; width:10px; height:10px; border-radius:2px; margin-right:4px; vertical-align:-1px; }
.empty { color:var(--muted); }
</style>
</head>
<body>
<header><h1>Tandem</h1><span class="meta" id="daemon">…</span><span class="meta" id="updated"></span><span class="meta" id="conn"></span></header>
<main>
<section id="topology-section"><h2>Topology</h2><div id="topology"><p class="empty">loading…</p></div></section>
<section id="timeline-section"><h2>Failovers</h2>
<div class="legend" id="legend"></div>
<div id="timeline"><p class="empty">loading…</p></div></section>
</main>
<script>
"use strict";
const PHASES = ["sdown", "odown", "election", "promotion", "switch", "vip", "abort"];
const PHASE_NAMES = { sdown: "sdown", odown: "odown", election: "election / leader", promotion: "promotion",
  switch: "switch-master", vip: "VIP", abort: "abort" };
const SVG = "http://www.w3.org/2000/svg";
const color = p => getComputedStyle(document.documentElement).getPropertyValue("--" + p).trim() || "#888";

function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}
function sv(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}
function ms(n) { return n < 1000 ? n + " ms" : (n / 1000).toFixed(n < 10000 ? 2 : 1) + " s"; }
function clock(t) { const d = new Date(t); return d.toISOString().substring(11, 23) + " UTC"; }
function bytes(n) { return n < 1024 ? n + " B" : n < 1048576 ? Math.floor(n / 1024) + " KiB" : Math.floor(n / 1048576) + " MiB"; }

function box(g, x, y, w, h, cls, lines, data) {
  const grp = sv("g", Object.assign({ class: "instance" }, data));
  grp.appendChild(sv("rect", { x, y, width: w, height: h, rx: 6, class: "box " + cls }));
  lines.forEach((t, i) => grp.appendChild(sv("text", { x: x + w / 2, y: y + 17 + i * 15, "text-anchor": "middle",
    class: i ? "small" : "" }, t)));
  g.appendChild(grp);
  return grp;
}
function arrow(g, x1, y1, x2, y2, cls, label) {
  g.appendChild(sv("line", { x1, y1, x2, y2, class: cls, "marker-end": cls.startsWith("repl") ? "url(#arrow)" : "" }));
  if (label) g.appendChild(sv("text", { x: (x1 + x2) / 2 + 6, y: (y1 + y2) / 2, class: "small" }, label));
}

function drawGroup(s, grp) {
  const W = 940, monitors = grp.monitors || [], replicas = grp.replicas || [];
  const H = 330;
  const svg = sv("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img",
    "aria-label": `group ${grp.name}`, "data-group": grp.name });
  const defs = sv("defs");
  const marker = sv("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" });
  marker.appendChild(sv("path", { d: "M0,0 L10,5 L0,10 z", fill: "#6b7385" }));
  defs.appendChild(marker); svg.appendChild(defs);

  // Row 1: the monitors (sentinels / node agents).
  const mw = 170, mh = 50, my = 12;
  const mx = i => (W - monitors.length * (mw + 16) + 16) / 2 + i * (mw + 16);
  // Row 2: the master (and the proxy beside it).
  const Mw = 220, Mh = 58, Mx = (W - Mw) / 2, My = 120;
  const downFlags = ["s_down", "o_down"];
  const masterDown = (grp.masterFlags || []).some(f => downFlags.includes(f));
  monitors.forEach((m, i) => {
    const x = mx(i);
    arrow(svg, x + mw / 2, my + mh, Mx + Mw / 2, My, "watch");
    const down = (m.flags || []).some(f => f === "s_down" || f === "disconnected");
    const n = m.node;
    const role = (m.flags || []).includes("self") ? "this monitor" : (down ? "peer (down)" : "peer");
    const lines = [n ? `${n.name} · ${m.address}` : m.address, n ? `${role} · redis ${n.localRedis || "-"}` : role];
    const g = box(svg, x, my, mw, mh, "monitor" + (down ? " down" : ""), lines,
      { "data-role": "monitor", "data-address": m.address });
    if (n && n.vipState === "MASTER") {
      g.appendChild(sv("rect", { x: x + mw - 34, y: my - 8, width: 38, height: 18, rx: 9, class: "vip", "data-role": "vip" }));
      g.appendChild(sv("text", { x: x + mw - 15, y: my + 5, "text-anchor": "middle", class: "vip-text" }, "VIP"));
    }
  });
  const flags = (grp.masterFlags || []).filter(f => f !== "master");
  box(svg, Mx, My, Mw, Mh, "master" + (masterDown ? " down" : ""),
    [`master ${grp.master}`, flags.length ? flags.join(", ") : `ok · epoch ${grp.configEpoch} · quorum ${grp.quorum}`],
    { "data-role": "master", "data-address": grp.master });
  if (grp.failoverState) svg.appendChild(sv("text", { x: Mx + Mw / 2, y: My + Mh + 14, "text-anchor": "middle", class: "small" },
    "failover: " + grp.failoverState));
  if (s.proxy) {
    const px = 30, pw = 190;
    box(svg, px, My, pw, Mh, "proxy", [`proxy ${s.proxy.listen || ""}`,
      `${s.proxy.connectedClients} clients · ${s.proxy.masterKnown ? "routing" : "holding"}`], { "data-role": "proxy" });
    arrow(svg, px + pw, My + Mh / 2, Mx, My + Mh / 2, "repl", "");
  }
  // Row 3: the replicas, an arrow from the master to each (the direction data flows).
  const rw = 190, rh = 50, ry = 250;
  const rx = i => (W - replicas.length * (rw + 16) + 16) / 2 + i * (rw + 16);
  replicas.forEach((r, i) => {
    const x = rx(i);
    const down = !r.linkUp || (r.flags || []).some(f => f === "s_down" || f === "disconnected");
    arrow(svg, Mx + Mw / 2, My + Mh, x + rw / 2, ry, "repl" + (down ? " down" : ""), down ? "link down" : `lag ${bytes(r.lagBytes)}`);
    box(svg, x, ry, rw, rh, down ? "down" : "", [`replica ${r.address}`, `offset ${r.offset} · prio ${r.priority}`],
      { "data-role": "replica", "data-address": r.address });
  });
  if (!replicas.length) svg.appendChild(sv("text", { x: W / 2, y: ry + 20, "text-anchor": "middle", class: "small" }, "no replicas"));
  return svg;
}

function drawTopology(s) {
  const root = document.getElementById("topology");
  root.replaceChildren();
  for (const grp of s.groups || []) {
    root.appendChild(el("h3", {}, `group ${grp.name}`));
    root.appendChild(drawGroup(s, grp));
  }
  if (!(s.groups || []).length) {
    // A proxy or a VRRP speaker alone: what it knows.
    const W = 940, svg = sv("svg", { width: W, height: 90, viewBox: `0 0 ${W} 90`, role: "img" });
    let x = 20;
    if (s.proxy) {
      box(svg, x, 16, 240, 58, "proxy", [`proxy ${s.proxy.listen || ""}`,
        `${s.proxy.connectedClients} clients · ${s.proxy.masterKnown ? "master known" : "no master: holding"}`], { "data-role": "proxy" });
      x += 260;
    }
    for (const v of s.vrrp || []) {
      const g = box(svg, x, 16, 220, 58, v.state === "MASTER" ? "master" : "", [`VRRP ${v.name}: ${v.state}`,
        (v.addresses || []).join(", ") || "-"], { "data-role": "vrrp", "data-state": v.state });
      if (v.state === "MASTER") {
        g.appendChild(sv("rect", { x: x + 220 - 34, y: 8, width: 38, height: 18, rx: 9, class: "vip", "data-role": "vip" }));
        g.appendChild(sv("text", { x: x + 220 - 15, y: 21, "text-anchor": "middle", class: "vip-text" }, "VIP"));
      }
      x += 240;
    }
    if (x === 20) root.appendChild(el("p", { class: "empty" }, "no group known"));
    else root.appendChild(svg);
  }
}

function drawFailover(f) {
  const div = el("div", { class: "failover", "data-master": f.master, "data-outcome": f.outcome, "data-to": f.to || "" });
  const end = f.endedAt || f.startedAt, total = Math.max(1, end - f.startedAt);
  const title = el("div", { class: "title" });
  title.appendChild(el("span", {}, `${f.master}: ${f.from || "?"} → ${f.to || "?"} `));
  title.appendChild(el("span", { class: "outcome-" + f.outcome },
    f.outcome === "switched" ? `switched in ${ms(end - f.startedAt)}` : f.outcome === "aborted" ? "aborted" : "running…"));
  div.appendChild(title);
  const leader = f.leader === "self" ? "this sentinel" : f.leader ? f.leader.substring(0, 8) : "?";
  div.appendChild(el("div", { class: "sub" }, `began ${clock(f.startedAt)} · leader ${leader}` + (f.epoch != null ? ` · epoch ${f.epoch}` : "")));
  // The bar: each step starts a segment in its phase's colour, up to the next step.
  const W = 940, H = 60, L = 10, R = 10, scale = (W - L - R) / total;
  const svg = sv("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}`, class: "bar", role: "img", "aria-label": "failover timeline" });
  svg.appendChild(sv("rect", { x: L, y: 8, width: W - L - R, height: 16, rx: 3, fill: "#eef0f4" }));
  const steps = f.steps || [];
  steps.forEach((st, i) => {
    const x = L + (st.at - f.startedAt) * scale;
    const next = i + 1 < steps.length ? L + (steps[i + 1].at - f.startedAt) * scale : W - R;
    svg.appendChild(sv("rect", { x: Math.min(x, W - R - 3), y: 8, width: Math.max(3, next - x), height: 16,
      fill: color(st.phase), "data-phase": st.phase }));
  });
  // Phase boundaries: a tick where each phase first appears, its label on the first of two
  // rows where it does not overlap the one before (else left out: the list below has it).
  const rowEnd = [-1e9, -1e9];
  const seen = new Set();
  for (const st of steps) {
    if (seen.has(st.phase)) continue;
    seen.add(st.phase);
    const x = L + (st.at - f.startedAt) * scale;
    svg.appendChild(sv("line", { x1: x, y1: 4, x2: x, y2: 28, stroke: "#1d2330", "stroke-width": 1 }));
    const label = `${st.phase} +${ms(st.at - f.startedAt)}`, width = label.length * 6.5;
    const left = Math.max(L, Math.min(x, W - R - width));
    const row = rowEnd.findIndex(end => left > end + 6);
    if (row < 0) continue;
    svg.appendChild(sv("text", { x: left, y: 40 + row * 14, class: "small" }, label));
    rowEnd[row] = left + width;
  }
  div.appendChild(svg);
  const ol = el("ol", { class: "steps" });
  for (const st of steps) {
    const li = el("li", { "data-event": st.event, "data-phase": st.phase });
    li.appendChild(el("span", {}, "+" + ms(st.at - f.startedAt)));
    const dot = el("span", { class: "dot" }); dot.style.background = color(st.phase); li.appendChild(dot);
    li.appendChild(el("span", {}, st.event));
    li.appendChild(el("span", { class: "detail", title: st.detail }, st.detail));
    ol.appendChild(li);
  }
  div.appendChild(ol);
  return div;
}

function drawTimeline(s) {
  const root = document.getElementById("timeline");
  root.replaceChildren();
  const list = (s.failovers || []).slice().reverse();
  if (!list.length) root.appendChild(el("p", { class: "empty", id: "no-failovers" },
    s.daemon === "proxy" || s.daemon === "vrrp" ? "this daemon runs no monitor: no failover history" : "no failover seen since this daemon started"));
  for (const f of list) root.appendChild(drawFailover(f));
}

function render(s) {
  document.getElementById("daemon").textContent = `tandem ${s.daemon}` + (s.node ? ` · node ${s.node}` : "") + (s.monitor ? ` · ${s.monitor}` : "");
  document.getElementById("updated").textContent = "updated " + clock(s.time);
  drawTopology(s);
  drawTimeline(s);
  document.body.setAttribute("data-loaded", "1");
}

const legend = document.getElementById("legend");
for (const p of PHASES) {
  const span = el("span"); const i = el("i"); i.style.background = color(p);
  span.appendChild(i); span.appendChild(document.createTextNode(PHASE_NAMES[p])); legend.appendChild(span);
}

async function poll() {
  const conn = document.getElementById("conn");
  try {
    const r = await fetch("status.json", { cache: "no-store" });
    if (!r.ok) throw new Error("HTTP " + r.status);
    render(await r.json());
    conn.textContent = ""; conn.className = "meta";
  } catch (e) {
    conn.textContent = "cannot reach the daemon: " + e.message; conn.className = "meta bad";
  } finally {
    setTimeout(poll, 1000);
  }
}
poll();
</script>
</body>
</html>
"""#
}
