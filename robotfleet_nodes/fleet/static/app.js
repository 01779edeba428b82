// RobotFleetOS fleet dashboard: vanilla ES module, no build step, no external assets.
//
// Data flow: initial state from the GET endpoints, then live updates from the SSE stream
// `/api/events` (`order`, `fleet`, `zones`, `robots`, `resync`). The stream starts with a full
// `robots` event per zone, then sends only changed rows (`full: false`, plus `removed` ids);
// once a zone came from the stream, GET /api/robots no longer overwrites it (it could be
// older than a delta already applied). Events only mutate the in-memory
// `state` and mark sections dirty; a single requestAnimationFrame pass (throttled to ~5 fps)
// re-renders what changed. At 1000+ robots the robots table only renders the current page
// of the filtered list into a fixed pool of rows, changing a cell only when its text differs.

const STATES = ["PENDING", "DISPATCHED", "ASSIGNED", "EXECUTING", "COMPLETED", "FAILED", "CANCELLED"];
const ROBOT_STATES = ["IDLE", "EXECUTING", "CHARGING", "ERROR", "OFFLINE"];
const PAGE_SIZE = 50; // robots table rows per page
const MAX_ORDERS = 50; // recent orders kept in the list
const FRAME_MS = 200; // at most ~5 renders per second

const $ = (id) => document.getElementById(id);

const state = {
  fleet: null,
  areas: [], // /api/areas
  zones: new Map(), // zone id -> /api/zones item
  robots: new Map(), // robot id -> /api/robots item
  liveZones: new Set(), // zones whose robots this stream sent in full (deltas apply to them)
  orders: new Map(), // order id -> order (most recent MAX_ORDERS)
  selected: null, // order id whose history is shown
  page: 0,
};

// ---------------------------------------------------------------- render scheduling

const dirty = new Set();
let frameQueued = false;
let lastFrame = 0;

/** Mark sections dirty and schedule one batched render (rAF, at most every FRAME_MS). */
function invalidate(...parts) {
  for (const p of parts) dirty.add(p);
  if (frameQueued) return;
  frameQueued = true;
  const wait = Math.max(0, FRAME_MS - (performance.now() - lastFrame));
  setTimeout(() => requestAnimationFrame(render), wait);
}

function render(now) {
  frameQueued = false;
  lastFrame = now;
  const parts = [...dirty];
  dirty.clear();
  for (const p of parts) {
    try {
      RENDERERS[p]();
    } catch (err) {
      console.warn("render", p, err); // a bad payload must not stop the other sections
    }
  }
}

const RENDERERS = {
  fleet: renderFleet,
  areas: renderAreas,
  zones: renderZones,
  robots: renderRobots,
  map: drawMap,
  orders: renderOrders,
  detail: renderDetail,
};

// ---------------------------------------------------------------- small DOM helpers

/** Create an element with attributes/properties and children. */
function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("data-") || k.startsWith("aria-") || k === "role") el.setAttribute(k, v);
    else el[k] = v;
  }
  for (const c of children) if (c != null) el.append(c);
  return el;
}

/** Set text only when it changed (avoids layout work and keeps selection stable). */
function setText(el, text) {
  const s = String(text);
  if (el.textContent !== s) el.textContent = s;
}

const fmtNum = (n, digits = 1) => (typeof n === "number" && isFinite(n) ? n.toFixed(digits) : "–");
// Units from the API: battery / battery_mean are percent (0..100), progress is a fraction (0..1).
const fmtPercent = (p) => (typeof p === "number" && isFinite(p) ? `${Math.round(p)}%` : "–");
const fmtFraction = (f) => (typeof f === "number" && isFinite(f) ? `${Math.round(f * 100)}%` : "–");
const fmtTime = (iso) => {
  const d = new Date(iso);
  return isNaN(d) ? String(iso ?? "") : d.toLocaleTimeString();
};
/** Natural order for ids like robot-2 < robot-10. */
const natural = new Intl.Collator(undefined, { numeric: true }).compare;

// ---------------------------------------------------------------- API

async function getJSON(path) {
  const res = await fetch(path, { headers: { Accept: "application/json" } });
  if (res.status === 401) showLogin("Your session ended: log in again.");
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return res.json();
}

/** Fetch the whole snapshot; each part is independent so one failure doesn't block the rest. */
async function loadSnapshot() {
  const jobs = [
    getJSON("/api/fleet").then((f) => setFleet(f)),
    loadAreas(),
    getJSON("/api/zones").then((zs) => setZones(zs, true)),
    getJSON("/api/robots").then((rs) => setRobots(null, rs)),
    getJSON(`/api/work-orders?limit=${MAX_ORDERS}`).then((body) => {
      for (const o of [...(body.items ?? [])].reverse()) upsertOrder(o);
    }),
  ];
  const results = await Promise.allSettled(jobs);
  for (const r of results) if (r.status === "rejected") console.warn("snapshot:", r.reason);
}

async function loadAreas() {
  const areas = await getJSON("/api/areas");
  state.areas = Array.isArray(areas) ? areas : [];
  fillAreaSelect();
  invalidate("areas");
}

// ---------------------------------------------------------------- state updates

function setFleet(f) {
  state.fleet = f;
  invalidate("fleet");
}

function setZones(list, replace = false) {
  if (!Array.isArray(list)) return;
  if (replace) state.zones.clear();
  let unknownArea = false;
  for (const z of list) {
    state.zones.set(z.id, z);
    if (z.area_id && !state.areas.some((a) => a.id === z.area_id)) unknownArea = true;
  }
  if (unknownArea) loadAreas().catch(() => {}); // a new area appeared: refresh the list
  fillZoneFilter();
  invalidate("zones", "areas", "robots"); // a DISCONNECTED zone's robots show as stale
}

/**
 * Replace the robots of one zone (full SSE `robots` event) or all robots (zoneId null:
 * GET /api/robots, which leaves the zones the stream keeps up to date alone).
 */
function setRobots(zoneId, list) {
  if (!Array.isArray(list)) return;
  const live = state.liveZones;
  const seen = new Set();
  let membership = false; // did a robot appear or disappear? (only then re-sort the ids)
  for (const r of list) {
    if (zoneId === null && live.has(r.zone_id)) continue;
    seen.add(r.id);
    if (!state.robots.has(r.id)) membership = true;
    state.robots.set(r.id, r);
  }
  for (const [id, r] of state.robots) {
    if (seen.has(id)) continue;
    if (zoneId === null ? !live.has(r.zone_id) : r.zone_id === zoneId) {
      state.robots.delete(id);
      membership = true;
    }
  }
  if (zoneId !== null) live.add(zoneId);
  if (membership) robotsSorted = null;
  invalidate("robots", "map");
}

/** A `robots` event: full (replace the zone's robots) or a delta (changed rows, removed ids). */
function applyRobots(m) {
  if (!m || typeof m.zone_id !== "string") return;
  if (m.full !== false) return setRobots(m.zone_id, m.robots);
  let membership = false;
  for (const r of Array.isArray(m.robots) ? m.robots : []) {
    if (!state.robots.has(r.id)) membership = true;
    state.robots.set(r.id, r);
  }
  for (const id of Array.isArray(m.removed) ? m.removed : []) {
    const r = state.robots.get(id);
    if (r && r.zone_id === m.zone_id) {
      state.robots.delete(id);
      membership = true;
    }
  }
  if (membership) robotsSorted = null;
  invalidate("robots", "map");
}

function upsertOrder(o) {
  if (!o || !o.id) return;
  state.orders.delete(o.id); // re-insert: Map order = recency
  state.orders.set(o.id, o);
  for (const id of state.orders.keys()) {
    if (state.orders.size <= MAX_ORDERS) break;
    if (id !== state.selected) state.orders.delete(id); // oldest first; keep the one being looked at
  }
  invalidate("orders");
  if (o.id === state.selected) invalidate("detail");
}

// ---------------------------------------------------------------- Fleet state

/** Which fleet instance this is, and who leads (docs/fleet.md, "Fleet failover"): a standby
 * serves every read; writes go to the leader (the form shows the 503 naming it). */
function renderRole(f) {
  const el = $("fleet-role");
  if (!f.role) return;
  el.hidden = false;
  el.dataset.role = f.role;
  const text =
    f.role === "leader" ? `${f.instance} · leader` : `${f.instance} · standby, leader: ${f.leader ?? "unknown"}`;
  setText(el, text);
  el.title = f.role === "leader" ? "This instance dispatches and takes writes" : `Writes go to ${f.leader_url ?? f.leader ?? "the leader"}`;
}

function renderFleet() {
  const f = state.fleet;
  if (!f) return;
  setText($("fleet-areas"), f.areas ?? "–");
  setText($("fleet-zones"), f.zones ?? "–");
  setText($("fleet-robots"), f.robots ?? "–");
  setText($("fleet-robots-online"), f.robots_online ?? "–");
  const kinds = Object.entries(f.robot_kinds ?? {});
  setText($("fleet-robot-kinds"), kinds.length ? kinds.map(([k, n]) => `${k} ${n}`).join(" · ") : "–");
  renderRole(f);
  const ul = $("fleet-orders");
  const counts = f.work_orders ?? {};
  if (ul.children.length !== STATES.length) {
    ul.replaceChildren(
      ...STATES.map((s) =>
        h("li", { class: `chip st-${s}`, "data-testid": `fleet-orders-${s}` }, h("span", { text: s }), h("b", { text: "0" })),
      ),
    );
  }
  STATES.forEach((s, i) => setText(ul.children[i].lastChild, counts[s] ?? 0));
}

// ---------------------------------------------------------------- Areas

function renderAreas() {
  const box = $("areas-list");
  if (!state.areas.length) {
    box.replaceChildren(h("p", { class: "muted", text: "No areas reported yet." }));
    return;
  }
  // Zone counts come from the live `zones` events when present, else from /api/areas.
  const cards = state.areas.map((a) => {
    const zoneIds = new Set(a.zones ?? []);
    for (const z of state.zones.values()) if (z.area_id === a.id) zoneIds.add(z.id);
    const zones = [...zoneIds].sort(natural).map((id) => state.zones.get(id) ?? { id });
    const live = zones.filter((z) => typeof z.robots === "number");
    const robots = live.length ? live.reduce((n, z) => n + z.robots, 0) : a.robots;
    const online = live.length ? live.reduce((n, z) => n + (z.robots_online ?? 0), 0) : a.robots_online;
    const silent = new Set(a.silent_zones ?? []);
    return h(
      "article",
      { class: "area", "data-testid": `area-${a.id}`, "aria-label": a.id },
      h("h3", {}, h("span", { text: a.id }), h("span", { class: "muted", text: ` ${robots ?? 0} robots, ${online ?? 0} online` })),
      h(
        "ul",
        { class: "zone-list" },
        ...zones.map((z) =>
          h(
            "li",
            { class: silent.has(z.id) ? "silent" : "", "data-testid": `area-zone-${z.id}` },
            h("span", { class: "zid", text: z.id }),
            h("span", { class: "muted", text: ` ${z.robots ?? "?"} robots${silent.has(z.id) ? " (silent)" : ""}` }),
          ),
        ),
      ),
    );
  });
  box.replaceChildren(...cards); // a handful of areas: rebuilding is cheap
}

function fillAreaSelect() {
  const sel = $("of-area");
  const keep = sel.value;
  const ids = state.areas.map((a) => a.id);
  if ([...sel.options].map((o) => o.value).join() === ids.join()) return;
  sel.replaceChildren(...ids.map((id) => h("option", { value: id, text: id })));
  if (ids.includes(keep)) sel.value = keep;
}

// ---------------------------------------------------------------- Zones

const zoneRows = new Map(); // zone id -> <tr>
const ZONE_COLS = ["id", "area_id", "robots", "robots_online", "idle", "busy", "charging", "error", "queued", "active", "battery_mean", "state"];

function renderZones() {
  const body = $("zones-body");
  const ids = [...state.zones.keys()].sort(natural);
  for (const [id, tr] of zoneRows) if (!state.zones.has(id)) (tr.remove(), zoneRows.delete(id));
  ids.forEach((id, i) => {
    let tr = zoneRows.get(id);
    if (!tr) {
      tr = h("tr", { "data-testid": `zone-row-${id}` }, ...ZONE_COLS.map(() => h("td")));
      zoneRows.set(id, tr);
    }
    if (body.children[i] !== tr) body.insertBefore(tr, body.children[i] ?? null);
    const z = state.zones.get(id);
    tr.classList.toggle("disconnected", z.state === "DISCONNECTED"); // no summary: last known counts
    ZONE_COLS.forEach((c, j) => setText(tr.children[j], c === "battery_mean" ? fmtPercent(z[c]) : z[c] ?? "–"));
  });
}

function fillZoneFilter() {
  const sel = $("rf-zone");
  const ids = [...state.zones.keys()].sort(natural);
  const have = [...sel.options].slice(1).map((o) => o.value);
  if (have.join() === ids.join()) return;
  const keep = sel.value;
  sel.replaceChildren(h("option", { value: "", text: "all zones" }), ...ids.map((id) => h("option", { value: id, text: id })));
  sel.value = ids.includes(keep) ? keep : "";
}

// ---------------------------------------------------------------- Robots (paginated, pooled rows)

let robotsSorted = null; // cached sorted ids; rebuilt only when membership changes
/** What each robot kind is (the kind cell's tooltip). */
const KIND_NAMES = { sim: "simulated robot", dds: "ROS 2 robot behind the DDS bridge", vda5050: "VDA 5050 vehicle (MQTT)" };
const rowPool = []; // PAGE_SIZE reusable <tr>, created once

function makeRobotRow() {
  const bar = h("span", { class: "bar-fill" });
  const tr = h(
    "tr",
    {},
    h("td", { class: "rid" }),
    h("td"),
    h("td", { class: "kind" }),
    h("td", {}, h("span", { class: "badge" })),
    h("td", {}, h("span", { class: "bar", role: "meter", "aria-valuemin": "0", "aria-valuemax": "100" }, bar), h("span", { class: "bar-txt" })),
    h("td", { class: "oid" }),
    h("td"),
    h("td", { class: "num" }),
  );
  tr._bar = bar; // cached refs so updates touch only what changed
  tr._last = {};
  return tr;
}

/** Update one row in place; each cell is written only when its value changed. */
function fillRobotRow(tr, r) {
  const last = tr._last;
  const c = tr.children;
  if (last.id !== r.id) {
    setText(c[0], r.id);
    tr.dataset.testid = `robot-row-${r.id}`;
  }
  if (last.zone !== r.zone_id) setText(c[1], r.zone_id ?? "");
  const kind = r.kind || "sim";
  if (last.kind !== kind) {
    setText(c[2], kind);
    c[2].title = KIND_NAMES[kind] ?? kind;
    tr.dataset.kind = kind;
  }
  if (last.state !== r.state) {
    const b = c[3].firstChild;
    b.className = `badge rs-${r.state}`;
    setText(b, r.state ?? "");
  }
  const pct = Math.max(0, Math.min(100, Math.round(r.battery ?? 0)));
  if (last.pct !== pct) {
    tr._bar.style.width = `${pct}%`;
    tr._bar.className = `bar-fill ${pct < 20 ? "low" : pct < 50 ? "mid" : ""}`;
    c[4].firstChild.setAttribute("aria-valuenow", pct);
    setText(c[4].lastChild, `${pct}%`);
  }
  if (last.order !== r.order_id) setText(c[5], r.order_id || "–");
  const prog = r.order_id ? fmtFraction(r.progress) : "";
  if (last.prog !== prog) setText(c[6], prog);
  const pos = `${fmtNum(r.x)}, ${fmtNum(r.y)}`;
  if (last.pos !== pos) setText(c[7], pos);
  // A DISCONNECTED zone's robots keep their last known state, marked stale (not OFFLINE).
  const stale = state.zones.get(r.zone_id)?.state === "DISCONNECTED";
  if (last.stale !== stale) {
    tr.classList.toggle("stale", stale);
    tr.title = stale ? "zone DISCONNECTED: last known state" : "";
  }
  tr._last = { id: r.id, zone: r.zone_id, kind, state: r.state, pct, order: r.order_id, prog, pos, stale };
}

function filteredRobots() {
  if (!robotsSorted) robotsSorted = [...state.robots.keys()].sort(natural);
  const q = $("rf-search").value.trim().toLowerCase();
  const zone = $("rf-zone").value;
  const st = $("rf-state").value;
  const kind = $("rf-kind").value;
  const out = [];
  for (const id of robotsSorted) {
    const r = state.robots.get(id);
    if (!r) continue;
    if (zone && r.zone_id !== zone) continue;
    if (st && r.state !== st) continue;
    if (kind && (r.kind || "sim") !== kind) continue;
    if (q && !id.toLowerCase().includes(q)) continue;
    out.push(r);
  }
  return out;
}

function renderRobots() {
  const list = filteredRobots();
  const pages = Math.max(1, Math.ceil(list.length / PAGE_SIZE));
  state.page = Math.min(state.page, pages - 1);
  const start = state.page * PAGE_SIZE;
  const rows = list.slice(start, start + PAGE_SIZE);
  const body = $("robots-body");
  while (rowPool.length < rows.length) rowPool.push(makeRobotRow());
  rows.forEach((r, i) => {
    const tr = rowPool[i];
    fillRobotRow(tr, r);
    if (body.children[i] !== tr) body.insertBefore(tr, body.children[i] ?? null);
  });
  while (body.children.length > rows.length) body.lastChild.remove();
  setText($("robots-count"), `${list.length} of ${state.robots.size} robots`);
  setText($("rp-info"), `page ${state.page + 1} / ${pages}`);
  $("rp-prev").disabled = state.page === 0;
  $("rp-next").disabled = state.page >= pages - 1;
}

// ---------------------------------------------------------------- Live map (canvas)

const STATE_COLOURS = { IDLE: "#2e9d5b", EXECUTING: "#2f6fde", CHARGING: "#d99a06", ERROR: "#d6383a", OFFLINE: "#8a8f98" };
const bounds = { minX: Infinity, minY: Infinity, maxX: -Infinity, maxY: -Infinity }; // grows only: a stable view

function drawMap() {
  const canvas = $("map-canvas");
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth;
  const hgt = canvas.clientHeight;
  if (!w || !hgt) return;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(hgt * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(hgt * dpr);
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, hgt);
  for (const r of state.robots.values()) {
    if (!isFinite(r.x) || !isFinite(r.y)) continue;
    bounds.minX = Math.min(bounds.minX, r.x);
    bounds.maxX = Math.max(bounds.maxX, r.x);
    bounds.minY = Math.min(bounds.minY, r.y);
    bounds.maxY = Math.max(bounds.maxY, r.y);
  }
  if (!isFinite(bounds.minX)) return;
  const pad = 14;
  const spanX = Math.max(1, bounds.maxX - bounds.minX);
  const spanY = Math.max(1, bounds.maxY - bounds.minY);
  const scale = Math.min((w - 2 * pad) / spanX, (hgt - 2 * pad) / spanY);
  const ox = pad + (w - 2 * pad - spanX * scale) / 2;
  const oy = pad + (hgt - 2 * pad - spanY * scale) / 2;
  const radius = state.robots.size > 300 ? 2.5 : 4.5;
  // One path per state: 5 fills per frame however many robots there are.
  const byState = new Map();
  for (const r of state.robots.values()) {
    if (!isFinite(r.x) || !isFinite(r.y)) continue;
    const key = STATE_COLOURS[r.state] ? r.state : "OFFLINE";
    if (!byState.has(key)) byState.set(key, new Path2D());
    const px = ox + (r.x - bounds.minX) * scale;
    const py = hgt - (oy + (r.y - bounds.minY) * scale); // y grows upward on the map
    const p = byState.get(key);
    p.moveTo(px + radius, py);
    p.arc(px, py, radius, 0, Math.PI * 2);
  }
  for (const [key, path] of byState) {
    ctx.fillStyle = STATE_COLOURS[key];
    ctx.fill(path);
  }
  // Extent of the view, for scale (metres in the robots' frame).
  ctx.fillStyle = getComputedStyle(canvas).color;
  ctx.font = "11px system-ui, sans-serif";
  ctx.fillText(`x ${fmtNum(bounds.minX)} … ${fmtNum(bounds.maxX)}, y ${fmtNum(bounds.minY)} … ${fmtNum(bounds.maxY)}`, 6, hgt - 6);
  canvas.dataset.robots = String(state.robots.size); // test hook: how many were drawn
}

function fillLegend() {
  $("map-legend").replaceChildren(
    ...ROBOT_STATES.map((s) => h("li", {}, h("span", { class: "swatch", style: `background:${STATE_COLOURS[s]}` }), s)),
  );
}

// ---------------------------------------------------------------- Work orders

const orderItems = new Map(); // order id -> <li>

function renderOrders() {
  const ol = $("orders-list");
  const ids = [...state.orders.keys()].reverse(); // newest first
  for (const [id, li] of orderItems) if (!state.orders.has(id)) (li.remove(), orderItems.delete(id));
  if (!ids.length && !ol.children.length) ol.append(h("li", { class: "muted empty", text: "No orders yet." }));
  else if (ids.length) ol.querySelector(".empty")?.remove();
  ids.forEach((id, i) => {
    const o = state.orders.get(id);
    let li = orderItems.get(id);
    if (!li) {
      const btn = h(
        "button",
        { type: "button", class: "order-btn", "aria-label": `Show history of ${id}` },
        h("span", { class: "oid" }),
        h("span", { class: "badge" }),
        h("span", { class: "muted where" }),
      );
      btn.addEventListener("click", () => selectOrder(id));
      li = h("li", { "data-testid": `order-${id}` }, btn);
      li.dataset.orderId = id;
      orderItems.set(id, li);
    }
    if (ol.children[i] !== li) ol.insertBefore(li, ol.children[i] ?? null);
    const [oid, badge, where] = li.firstChild.children;
    setText(oid, `${o.id} · ${o.task ?? ""}`);
    if (li.dataset.state !== o.state) {
      li.dataset.state = o.state; // test hook: data-state="COMPLETED"
      badge.className = `badge st-${o.state}`;
      setText(badge, o.state);
    }
    setText(where, [o.area_id, o.zone_id, o.robot_id].filter(Boolean).join(" › "));
    li.classList.toggle("selected", id === state.selected);
  });
}

async function selectOrder(id) {
  state.selected = id;
  invalidate("orders", "detail");
  try {
    upsertOrder(await getJSON(`/api/work-orders/${encodeURIComponent(id)}`)); // freshest history
  } catch (err) {
    console.warn(err);
  }
}

function renderDetail() {
  const o = state.orders.get(state.selected);
  const box = $("order-detail");
  if (!o) {
    box.hidden = true;
    return;
  }
  box.hidden = false;
  setText($("order-detail-h"), `Order ${o.id}`);
  const meta = [
    ["State", o.state], ["Task", o.task], ["Priority", o.priority], ["Area", o.area_id],
    ["Zone", o.zone_id || "–"], ["Robot", o.robot_id || "–"], ["Attempts", o.attempts ?? 0],
    ["Target", o.target ? `${o.target.x}, ${o.target.y}` : "–"],
  ];
  if (o.error) meta.push(["Error", o.error]);
  $("order-detail-meta").replaceChildren(...meta.flatMap(([k, v]) => [h("dt", { text: k }), h("dd", { text: String(v ?? "–") })]));
  $("order-history").replaceChildren(
    ...(o.history ?? []).map((e) =>
      h("tr", {}, h("td", {}, h("span", { class: `badge st-${e.state}`, text: e.state })), h("td", { text: fmtTime(e.at) }), h("td", { text: e.by ?? "" }), h("td", { text: e.note ?? "" })),
    ),
  );
}

// Form fields that can carry a server error; anything else goes to the form-level slot.
const ERROR_FIELDS = ["area_id", "task", "priority", "id", "target"];

function clearErrors() {
  for (const f of [...ERROR_FIELDS, "form"]) setText($(`err-${f}`), "");
  setText($("form-ok"), "");
  for (const el of $("order-form").querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
}

/** Show a 4xx body `{"error", "details": [{"loc", "msg"}]}` next to the fields it names. */
function showErrors(body, status) {
  const details = Array.isArray(body?.details) ? body.details : [];
  const inputFor = { area_id: "of-area", task: "of-task", priority: "of-priority", id: "of-id", target: "of-x" };
  let placed = false;
  for (const d of details) {
    const loc = Array.isArray(d.loc) ? d.loc.map(String) : String(d.loc ?? "").split(".");
    // loc may be ["body", "priority"], "priority" or "target.x": take the first known field.
    const field = loc.find((p) => ERROR_FIELDS.includes(p)) ?? (loc.includes("x") || loc.includes("y") ? "target" : null);
    const slot = $(`err-${field ?? "form"}`);
    const msg = d.msg ?? String(d);
    slot.textContent = slot.textContent ? `${slot.textContent}; ${msg}` : msg;
    if (field) $(inputFor[field]).setAttribute("aria-invalid", "true");
    placed ||= Boolean(field);
  }
  if (!placed || !details.length) setText($("err-form"), `${body?.error ?? "request failed"} (HTTP ${status})`);
}

async function submitOrder(ev) {
  ev.preventDefault();
  clearErrors();
  const f = ev.target;
  const val = (name) => f.elements[name].value.trim();
  const body = { area_id: val("area_id"), task: val("task") };
  // Send what was typed; the server is the single source of validation.
  if (val("priority") !== "") body.priority = Number(val("priority"));
  if (val("id") !== "") body.id = val("id");
  if (val("x") !== "" || val("y") !== "") {
    body.target = { x: val("x") === "" ? null : Number(val("x")), y: val("y") === "" ? null : Number(val("y")) };
  }
  const button = f.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const res = await fetch("/api/work-orders", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
    });
    const data = await res.json().catch(() => ({}));
    if (res.status === 401) showLogin("Your session ended: log in again.");
    if (!res.ok) {
      showErrors(data, res.status);
      return;
    }
    upsertOrder(data);
    setText($("form-ok"), `${res.status === 200 ? "Already stored" : "Submitted"}: ${data.id}`);
    f.elements.id.value = "";
  } catch (err) {
    setText($("err-form"), `Network error: ${err.message}`);
  } finally {
    button.disabled = false;
  }
}

// ---------------------------------------------------------------- live stream

let source = null;
let retryMs = 1000;
let everOpened = false;

function setConn(s, text) {
  const el = $("conn-status");
  el.dataset.state = s;
  document.body.dataset.conn = s;
  setText(el, text);
}

/** Parse an SSE payload; a malformed one is logged and ignored. */
function onEvent(handler) {
  return (ev) => {
    let data;
    try {
      data = JSON.parse(ev.data);
    } catch {
      console.warn("bad event", ev.type);
      return;
    }
    handler(data);
  };
}

function connect() {
  source = new EventSource("/api/events");
  source.addEventListener("open", () => {
    setConn("live", "live");
    retryMs = 1000;
    state.liveZones.clear(); // this stream starts with every zone in full again
    if (everOpened) loadSnapshot(); // after a reconnect: resync what we may have missed
    everOpened = true;
  });
  source.addEventListener("order", onEvent(upsertOrder));
  source.addEventListener("fleet", onEvent(setFleet));
  source.addEventListener("zones", onEvent((zs) => setZones(zs)));
  source.addEventListener("robots", onEvent(applyRobots));
  // We fell behind and the server dropped events: full robots/fleet/zones follow on the
  // stream; orders are fetched again (GET /api/robots leaves the streamed zones alone).
  source.addEventListener("resync", () => loadSnapshot());
  source.addEventListener("error", () => {
    // CONNECTING: the browser retries by itself. CLOSED: it gave up (e.g. HTTP error), so we retry.
    if (source.readyState === EventSource.CLOSED) {
      setConn("down", `disconnected, retrying in ${Math.round(retryMs / 1000)} s`);
      source.close();
      if (!started) return; // logged out: no retry
      setTimeout(() => checkSession().then((ok) => ok && connect()), retryMs);
      retryMs = Math.min(retryMs * 2, 30000);
    } else {
      setConn("reconnecting", "reconnecting…");
    }
  });
}

// ---------------------------------------------------------------- login (docs/fleet.md, "Authentication")

let started = false; // the dashboard's data flow runs (after login, or at once on an open API)
let areasTimer = null;

/** True when the API may be used now (open, or a live session); else shows the login screen. */
async function checkSession() {
  try {
    const res = await fetch("/api/session", { headers: { Accept: "application/json" } });
    const s = await res.json();
    if (s.auth && !s.authenticated) {
      showLogin("");
      return false;
    }
    showUser(s);
    return true;
  } catch (err) {
    console.warn("session:", err);
    return true; // the server is unreachable: the stream's retry loop takes over
  }
}

function showUser(s) {
  const who = $("who");
  who.hidden = !s.auth;
  setText(who, s.auth ? `${s.name} (${s.role})` : "");
  $("logout").hidden = !s.auth;
  const submit = $("order-form").querySelector("button[type=submit]");
  submit.disabled = s.auth && s.role === "viewer";
  submit.title = submit.disabled ? "The viewer role may not submit orders" : "";
}

function showLogin(message) {
  stopDashboard();
  document.body.dataset.auth = "login";
  $("login").hidden = false;
  $("who").hidden = true;
  $("logout").hidden = true;
  setText($("login-error"), message);
  $("login-token").focus();
}

async function login(ev) {
  ev.preventDefault();
  const input = $("login-token");
  const button = $("login-form").querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const res = await fetch("/api/login", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ token: input.value.trim() }),
    });
    const data = await res.json().catch(() => ({}));
    if (!res.ok) {
      setText($("login-error"), res.status === 401 ? "Unknown or revoked token." : `${data.error ?? "login failed"} (HTTP ${res.status})`);
      return;
    }
    input.value = ""; // the cookie holds the session; the token is not kept
    setText($("login-error"), "");
    $("login").hidden = true;
    delete document.body.dataset.auth;
    showUser({ auth: true, name: data.name, role: data.role });
    startDashboard();
  } catch (err) {
    setText($("login-error"), `Network error: ${err.message}`);
  } finally {
    button.disabled = false;
  }
}

async function logout() {
  await fetch("/api/logout", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" }).catch(() => {});
  showLogin("Logged out.");
}

function startDashboard() {
  if (started) return;
  started = true;
  everOpened = false;
  // Areas change rarely and have no SSE event: refresh them slowly (silent zones, capacity).
  areasTimer = setInterval(() => loadAreas().catch(() => {}), 10000);
  invalidate("fleet", "orders", "robots");
  loadSnapshot();
  connect();
}

function stopDashboard() {
  if (!started) return;
  started = false;
  clearInterval(areasTimer);
  if (source) source.close();
  setConn("down", "logged out");
}

// ---------------------------------------------------------------- wiring

async function init() {
  fillLegend();
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", logout);
  $("order-form").addEventListener("submit", submitOrder);
  const refilter = () => {
    state.page = 0;
    invalidate("robots");
  };
  $("rf-search").addEventListener("input", refilter);
  $("rf-zone").addEventListener("change", refilter);
  $("rf-state").addEventListener("change", refilter);
  $("rf-kind").addEventListener("change", refilter);
  $("rp-prev").addEventListener("click", () => ((state.page = Math.max(0, state.page - 1)), invalidate("robots")));
  $("rp-next").addEventListener("click", () => ((state.page += 1), invalidate("robots")));
  new ResizeObserver(() => invalidate("map")).observe($("map-canvas"));
  if (await checkSession()) startDashboard();
}

init();
