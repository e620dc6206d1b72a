// The admin status page: asks the admin API (with the token kept in this tab's sessionStorage)
// every 5 seconds and draws what it answers. Every value is set with textContent: names come
// from remote instances and are never parsed as HTML.
"use strict";

const KEY = "vidseed-admin-token";
const REFRESH_MS = 5000;
const $ = (id) => document.getElementById(id);

function token() { return sessionStorage.getItem(KEY); }

async function api(path) {
  const res = await fetch(path, { headers: { Authorization: "Bearer " + token() }, cache: "no-store" });
  if (res.status === 401) { throw Object.assign(new Error("the token was refused"), { unauthorized: true }); }
  if (!res.ok) { throw new Error(path + ": HTTP " + res.status); }
  return res.json();
}

function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(1)) + " " + units[i];
}

function row(cells) {
  const tr = document.createElement("tr");
  for (const c of cells) {
    const td = document.createElement("td");
    if (c && typeof c === "object" && !(c instanceof Node)) {
      if (c.cls) { td.className = c.cls; }
      if (c.field) { td.dataset.field = c.field; }
      if (c.raw !== undefined) { td.dataset.value = String(c.raw); }
      if (c.node) { td.appendChild(c.node); } else { td.textContent = c.text; }
    } else if (c instanceof Node) {
      td.appendChild(c);
    } else {
      td.textContent = c === null || c === undefined ? "–" : String(c);
    }
    tr.appendChild(td);
  }
  return tr;
}

function fill(id, rows) {
  const body = $(id).tBodies[0];
  body.replaceChildren(...rows);
}

const num = (field, n, shown) => ({ cls: "num", field, raw: n, text: shown === undefined ? String(n) : shown });

function drawGraph(id, values) {
  const line = $(id).querySelector("polyline");
  if (values.length === 0) { line.setAttribute("points", ""); return; }
  const max = Math.max(...values, 1e-9);
  const step = values.length > 1 ? 360 / (values.length - 1) : 0;
  line.setAttribute("points", values.map((v, i) => (i * step).toFixed(1) + "," + (118 - (v / max) * 114).toFixed(1)).join(" "));
  line.dataset.max = String(max);
  line.dataset.count = String(values.length);
}

function showNodes(nodes) {
  fill("nodes", nodes.map((n) => {
    const s = n.stats || {};
    const tr = row([
      { field: "name", text: n.name },
      { field: "state", text: n.state, cls: "state-" + n.state.replace(" ", "-") },
      num("catalogSeq", n.catalogSeq ?? 0, (n.catalogSeq ?? "–") + " / " + n.latestSeq),
      num("files", n.files),
      num("requests", s.requests ?? 0),
      num("bytesServed", s.bytesServed ?? 0, bytes(s.bytesServed ?? 0)),
      num("peers", s.peers ?? 0),
      num("swarms", s.swarms ?? 0),
      num("trackerMessagesPerSec", s.trackerMessagesPerSec ?? 0),
      num("diskFreeBytes", s.diskFreeBytes ?? 0, bytes(s.diskFreeBytes ?? 0)),
    ]);
    tr.dataset.node = n.name;
    return tr;
  }));
  if (nodes.length > 0) { $("latest-seq").textContent = String(nodes[0].latestSeq); }
}

function showTraffic(t) {
  const pts = t.points || [];
  const req = pts.map((p) => p.total.requestsPerSec);
  const mb = pts.map((p) => p.total.bytesPerSec / 1e6);
  const msg = pts.map((p) => p.total.trackerMessagesPerSec);
  drawGraph("graph-requests", req);
  drawGraph("graph-mbytes", mb);
  drawGraph("graph-messages", msg);
  const last = (a) => (a.length ? a[a.length - 1] : 0);
  $("now-requests").textContent = last(req).toFixed(1);
  $("now-mbytes").textContent = last(mb).toFixed(2);
  $("now-messages").textContent = last(msg).toFixed(1);
}

function showVideos(videos) {
  $("video-count").textContent = String(videos.length);
  fill("videos", videos.map((v) => {
    const tr = row([
      { field: "name", text: v.name },
      num("size", v.size, bytes(v.size)),
      { field: "nodes", text: (v.nodes || []).join(", ") || "no node yet" },
    ]);
    tr.dataset.infoHash = v.infoHash;
    return tr;
  }));
}

function showFollows(following, followers) {
  $("following-count").textContent = String(following.length);
  $("followers-count").textContent = String(followers.length);
  const rows = [];
  for (const [dir, list] of [["following", following], ["follower", followers]]) {
    for (const f of list) {
      const tr = row([dir, { field: "host", text: f.host }, { field: "state", text: f.state }, num("score", f.score)]);
      tr.dataset.actor = f.actor;
      rows.push(tr);
    }
  }
  fill("follows", rows);
}

function showDeliveries(list) {
  $("delivery-count").textContent = String(list.length);
  fill("deliveries", list.map((d) => row([
    { field: "host", text: d.host },
    { field: "activity", text: d.activityId },
    num("attempts", d.attempts),
    d.nextAt ? new Date(d.nextAt).toLocaleTimeString() : "–",
    d.lastError || "",
  ])));
}

function showCopies(copies) {
  $("copy-count").textContent = String(copies.length);
  fill("copies", copies.map((c) => {
    const bar = document.createElement("progress");
    bar.max = c.totalBytes || 1;
    bar.value = c.doneBytes || 0;
    const span = document.createElement("span");
    span.append(bar, " " + bytes(c.doneBytes || 0) + " / " + bytes(c.totalBytes || 0));
    return row([
      { field: "video", text: c.videoName || c.videoUrl },
      c.kind,
      { field: "state", text: c.state + (c.reason ? ": " + c.reason : ""), cls: "state-" + c.state },
      { field: "progress", node: span, raw: c.doneBytes || 0 },
      (c.nodes || []).map((n) => n.name || n).join(", "),
    ]);
  }));
}

async function refresh() {
  try {
    const [nodes, traffic, videos, following, followers, deliveries, copies] = await Promise.all([
      api("/api/v1/admin/nodes"), api("/api/v1/admin/traffic"), api("/api/v1/admin/videos"),
      api("/api/v1/admin/following"), api("/api/v1/admin/followers"), api("/api/v1/admin/deliveries"),
      api("/api/v1/admin/redundancy"),
    ]);
    showNodes(nodes.nodes);
    showTraffic(traffic);
    showVideos(videos.videos);
    showFollows(following.following, followers.followers);
    showDeliveries(deliveries.deliveries);
    showCopies(copies.copies);
    $("fetch-error").textContent = "";
    $("updated").textContent = new Date().toLocaleTimeString();
    document.body.dataset.loaded = String(Number(document.body.dataset.loaded || 0) + 1);
  } catch (e) {
    if (e.unauthorized) { sessionStorage.removeItem(KEY); showLogin("The token was refused: enter it again."); return; }
    $("fetch-error").textContent = "Cannot reach the admin API: " + e.message;
  }
}

let timer = null;

function showLogin(message) {
  clearInterval(timer);
  $("status").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message || "";
  $("token").focus();
}

function showStatus() {
  $("login").hidden = true;
  $("status").hidden = false;
  refresh();
  clearInterval(timer);
  timer = setInterval(refresh, REFRESH_MS);
}

$("login").addEventListener("submit", (ev) => {
  ev.preventDefault();
  sessionStorage.setItem(KEY, $("token").value.trim());
  $("token").value = "";
  showStatus();
});
$("forget").addEventListener("click", () => { sessionStorage.removeItem(KEY); showLogin(); });

if (token()) { showStatus(); } else { showLogin(); }
