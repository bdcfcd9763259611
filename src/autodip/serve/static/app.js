// autodip serve: the page's script. Plain JavaScript, no build step, nothing from the network.
"use strict";

const $ = (id) => document.getElementById(id);
const TOKEN = new URLSearchParams(location.search).get("token") || "";
const FINAL = ["done", "stopped", "failed", "cancelled"];
const COLOURS = ["#2f6fde", "#d9822b", "#2a9d62", "#8a4fd1", "#c62f2f", "#17a2b8"];

// --- talking to the server -----------------------------------------------------------------

function url(path, params = {}) {
  const query = new URLSearchParams(params);
  if (TOKEN) query.set("token", TOKEN);
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

async function api(path, options = {}, params = {}) {
  const answer = await fetch(url(path, params), { credentials: "same-origin", ...options });
  if (!answer.ok) {
    let detail = `${answer.status} ${answer.statusText}`;
    try { detail = (await answer.json()).detail || detail; } catch (e) { /* not JSON */ }
    throw new Error(detail);
  }
  return answer;
}

// --- the page's state ----------------------------------------------------------------------

const page = {
  info: null,      // /api/info
  image: null,     // the current upload's description
  job: null,       // the job shown (its summary)
  source: null,    // its EventSource
  lastEvent: -1,
  curves: null,    // what the charts draw
  undo: [],
  drawing: false,
  last: null,
};

function newCurves(part = null) {
  // part: which run of several the curves are ("member 2/4", "tile 3/25"), or null
  return { loss: [], criteria: {}, limit: 0, stopStep: null, stoppedAt: null, candidates: {}, part };
}

// --- the image -----------------------------------------------------------------------------

async function sendImage(file) {
  $("form-error").textContent = "";
  $("image-info").textContent = `reading ${file.name} …`;
  try {
    const answer = await api("/api/uploads", { method: "POST", body: file }, { name: file.name });
    showImage(await answer.json());
  } catch (error) {
    $("image-info").textContent = "";
    $("form-error").textContent = error.message;
  }
}

function describe(image) {
  const depth = image.dtype && !["uint8", "uint16"].includes(image.dtype)
    ? image.dtype : `${image.bit_depth}-bit`;
  const extra = [image.alpha ? "alpha kept aside" : "", image.tone_mapped ? "shown tone-mapped" : ""]
    .filter(Boolean).join(", ");
  return `${image.name}: ${image.width}×${image.height}, ${image.channels} channel(s), ` +
    `${depth} ${image.format}${extra ? ` (${extra})` : ""}`;
}

function showImage(image) {
  page.image = image;
  $("image-info").textContent = describe(image);
  $("input-img").src = url(`/api/uploads/${image.id}/preview.png`);
  const canvas = $("mask-canvas");
  canvas.width = image.width;
  canvas.height = image.height;
  page.undo = [];
  const longest = Math.max(image.width, image.height);
  $("brush").max = Math.max(8, Math.round(longest / 4));
  $("brush").value = Math.max(1, Math.round(longest / 30));
  $("brush-size").textContent = $("brush").value;
  $("placeholder").hidden = true;
  $("start").disabled = false;
  fillCriteria();
  showTab("edit");
}

function fitStage(element, width, height) {
  // Show the image as large as the panel allows (small images scaled up, pixelated).
  const room = Math.max(200, $("stage").clientWidth);
  const scale = Math.min(room / width, (window.innerHeight * 0.5) / height);
  element.style.width = `${Math.round(width * scale)}px`;
  element.style.height = `${Math.round(height * scale)}px`;
}

function showTab(which) {
  const editing = which === "edit";
  $("tab-edit").classList.toggle("active", editing);
  $("tab-compare").classList.toggle("active", !editing);
  $("editor").hidden = !editing || !page.image;
  $("compare").hidden = editing;
  if (editing && page.image) fitStage($("editor"), page.image.width, page.image.height);
  if (!editing && page.job) {
    const shown = page.job.size || [page.image.width, page.image.height];
    fitStage($("compare"), shown[0], shown[1]);
  }
  $("mask-canvas").hidden = task() !== "inpaint";
}

// --- the task and the options ----------------------------------------------------------------

function task() {
  return document.querySelector('input[name="task"]:checked').value;
}

function fillOptions(info) {
  const net = $("net");
  net.innerHTML = "";
  net.append(new Option("task default (hourglass)", ""), new Option("auto (from the texture)", "auto"));
  for (const [name, about] of Object.entries(info.nets)) net.append(new Option(`${name} — ${about}`, name));
  fillCriteria();
}

function fillCriteria() {
  const info = page.info;
  if (!info) return;
  const select = $("stop-criterion");
  const chosen = select.value;
  const defaults = info.defaults[task()];
  select.innerHTML = "";
  select.append(new Option(`task default (${defaults.stop || "none"})`, ""));
  select.append(new Option("none: run every iteration", "none"));
  const channels = page.image ? page.image.channels : 3;
  for (const [name, kind] of Object.entries(info.criteria)) {
    if (kind.tasks && !kind.tasks.includes(task())) continue;
    if (kind.channels && !kind.channels.includes(channels)) continue;
    select.append(new Option(`${name} — ${kind.about}`, name));
  }
  if ([...select.options].some((o) => o.value === chosen)) select.value = chosen;
  $("iters").placeholder = `${defaults.iters} (adaptive)`;
  $("patience").placeholder = defaults.patience ? `${defaults.patience}` : "criterion's own";
  $("width").placeholder = `${defaults.width}`;
  for (const element of document.querySelectorAll(".tiling")) element.hidden = !defaults.tile;
  const tile = tiledAt(defaults);
  $("tiling").options[0].text = defaults.tile ? `in ${defaults.tile}² tiles` : "in tiles";
  $("ensemble").placeholder = tile ? "1 (one run per tile)" : `${defaults.ensemble}`;
}

// The tile side the loaded image would be restored in under the task's defaults, as the server
// decides it (JobOptions.tile_for): null where it is fitted whole.
function tiledAt(defaults) {
  if (!page.image || !defaults.tile || $("tiling").value === "none") return null;
  if (page.image.width * page.image.height < defaults.tile_from_pixels) return null;
  const ensemble = numberOrNull("ensemble");
  if ((ensemble ?? 1) > 1 || $("ensemble-transforms").value !== "none") return null;
  return defaults.tile;
}

function onTask() {
  $("mask-tools").hidden = task() !== "inpaint";
  fillCriteria();
  showTab("edit");
}

function numberOrNull(id) {
  const text = $(id).value.trim();
  return text === "" ? null : Number(text);
}

function request() {
  const body = {
    upload: page.image.id,
    task: task(),
    factor: Number($("factor").value),
    net: $("net").value || null,
    width: numberOrNull("width"),
    stop: $("stop-criterion").value || null,
    patience: numberOrNull("patience"),
    iters: numberOrNull("iters"),
    seed: numberOrNull("seed") ?? 0,
    ensemble: numberOrNull("ensemble"),
    ensemble_transforms: $("ensemble-transforms").value,
    tiling: $("tiling").value,
  };
  if (body.task === "inpaint") body.mask = maskPng();
  return body;
}

async function start() {
  $("form-error").textContent = "";
  if (!page.image) return;
  $("start").disabled = true;
  try {
    const answer = await api("/api/jobs", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(request()),
    });
    attach(await answer.json());
    refreshQueue();
  } catch (error) {
    $("form-error").textContent = error.message;
  } finally {
    $("start").disabled = false;
  }
}

// --- the mask ------------------------------------------------------------------------------

function maskContext() {
  return $("mask-canvas").getContext("2d", { willReadFrequently: true });
}

function pointAt(event) {
  const canvas = $("mask-canvas");
  const box = canvas.getBoundingClientRect();
  return {
    x: ((event.clientX - box.left) * canvas.width) / box.width,
    y: ((event.clientY - box.top) * canvas.height) / box.height,
  };
}

function paintTo(point) {
  const context = maskContext();
  const erase = document.querySelector('input[name="tool"]:checked').value === "erase";
  context.globalCompositeOperation = erase ? "destination-out" : "source-over";
  context.strokeStyle = context.fillStyle = "rgb(255, 40, 40)";
  context.lineWidth = Number($("brush").value);
  context.lineCap = context.lineJoin = "round";
  context.beginPath();
  const from = page.last || point;
  context.moveTo(from.x, from.y);
  context.lineTo(point.x + 0.01, point.y);
  context.stroke();
  page.last = point;
}

function remember() {
  const canvas = $("mask-canvas");
  page.undo.push(maskContext().getImageData(0, 0, canvas.width, canvas.height));
  if (page.undo.length > 30) page.undo.shift();
}

function setupMask() {
  const canvas = $("mask-canvas");
  canvas.addEventListener("pointerdown", (event) => {
    if (task() !== "inpaint") return;
    canvas.setPointerCapture(event.pointerId);
    remember();
    page.drawing = true;
    page.last = null;
    paintTo(pointAt(event));
  });
  canvas.addEventListener("pointermove", (event) => {
    if (page.drawing) paintTo(pointAt(event));
  });
  const end = () => { page.drawing = false; page.last = null; };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  $("brush").addEventListener("input", () => { $("brush-size").textContent = $("brush").value; });
  $("undo").addEventListener("click", () => {
    const previous = page.undo.pop();
    if (previous) maskContext().putImageData(previous, 0, 0);
  });
  $("clear").addEventListener("click", () => {
    remember();
    maskContext().clearRect(0, 0, canvas.width, canvas.height);
  });
  $("invert").addEventListener("click", () => {
    remember();
    const context = maskContext();
    const pixels = context.getImageData(0, 0, canvas.width, canvas.height);
    for (let i = 0; i < pixels.data.length; i += 4) {
      const painted = pixels.data[i + 3] > 0;
      pixels.data.set(painted ? [0, 0, 0, 0] : [255, 40, 40, 255], i);
    }
    context.putImageData(pixels, 0, 0);
  });
  $("mask-file").addEventListener("change", async (event) => {
    const file = event.target.files[0];
    event.target.value = "";
    if (file && page.image) await loadMask(file);
  });
}

async function loadMask(file) {
  $("form-error").textContent = "";
  try {
    const answer = await api(`/api/uploads/${page.image.id}/mask`, { method: "POST", body: file },
      { name: file.name });
    const bitmap = await createImageBitmap(await answer.blob());
    const canvas = $("mask-canvas");
    const scratch = document.createElement("canvas");
    scratch.width = canvas.width;
    scratch.height = canvas.height;
    const scratchContext = scratch.getContext("2d");
    scratchContext.drawImage(bitmap, 0, 0);
    const mask = scratchContext.getImageData(0, 0, canvas.width, canvas.height);
    for (let i = 0; i < mask.data.length; i += 4) {
      const missing = mask.data[i] < 128;
      mask.data.set(missing ? [255, 40, 40, 255] : [0, 0, 0, 0], i);
    }
    remember();
    maskContext().putImageData(mask, 0, 0);
  } catch (error) {
    $("form-error").textContent = error.message;
  }
}

function maskPng() {
  // White = known pixel, black = painted (to fill), as the command line's mask files.
  const canvas = $("mask-canvas");
  const painted = maskContext().getImageData(0, 0, canvas.width, canvas.height);
  const out = document.createElement("canvas");
  out.width = canvas.width;
  out.height = canvas.height;
  const context = out.getContext("2d");
  const mask = context.createImageData(canvas.width, canvas.height);
  for (let i = 0; i < mask.data.length; i += 4) {
    const value = painted.data[i + 3] > 0 ? 0 : 255;
    mask.data.set([value, value, value, 255], i);
  }
  context.putImageData(mask, 0, 0);
  return out.toDataURL("image/png");
}

// --- following a job -----------------------------------------------------------------------

function attach(job, replay = true) {
  if (page.source) page.source.close();
  page.job = job;
  if (replay) {
    page.lastEvent = -1;
    page.curves = newCurves();
    $("before").src = url(`/api/jobs/${job.id}/input.png`);
    $("after").removeAttribute("src");
    $("summary").textContent = "";
    $("run-error").textContent = "";
    $("downloads").hidden = true;
    $("stats").textContent = "";
    $("bar").style.width = "0";
  }
  $("run").hidden = false;
  $("tab-compare").disabled = false;
  setState(job.state, job.message, job.can_continue);
  const source = new EventSource(url(`/api/jobs/${job.id}/events`, { after: page.lastEvent }));
  page.source = source;
  const on = (kind, handle) => source.addEventListener(kind, (event) => {
    if (typeof event.data !== "string") return; // the connection's own error, not a job's
    page.lastEvent = Number(event.lastEventId);
    handle(JSON.parse(event.data));
  });
  on("status", onStatus);
  on("progress", onProgress);
  on("point", onPoint);
  on("estimate", (data) => {
    $("after").src = url(`/api/jobs/${page.job.id}/estimate.png`, { step: data.step });
    $("after-label").textContent = `estimate, step ${data.step}`;
    if ($("compare").hidden && page.job.state === "running") showTab("compare");
  });
  // An ensemble's next member, or a tiled job's next tile: its steps count from 1 again, so
  // its curves start afresh.
  const nextRun = (label) => {
    page.curves = newCurves(label);
    $("criteria-charts").innerHTML = "";
    scheduleDraw();
  };
  on("member", (data) => nextRun(`member ${data.member}/${data.count}`));
  on("tile", (data) => nextRun(`tile ${data.tile}/${data.count}`));
  on("done", onDone);
  on("error", (data) => { if (data) $("run-error").textContent = data.message; });
  source.onerror = () => { if (FINAL.includes(page.job.state)) source.close(); };
  renderQueue();
}

function setState(state, message, canContinue) {
  page.job.state = state;
  const words = { queued: "waiting in the queue", running: "running", stopping: "stopping…",
    done: "done", stopped: "stopped", failed: "failed", cancelled: "cancelled" };
  $("status").textContent = `Job ${page.job.id}: ${words[state] || state}${message ? ` — ${message}` : ""}`;
  $("stop").disabled = !["running", "queued"].includes(state);
  $("cancel").disabled = !["running", "queued", "stopping"].includes(state);
  $("continue").disabled = !canContinue;
}

function onStatus(data) {
  setState(data.state, data.message, data.can_continue);
  if (data.state === "failed") $("run-error").textContent = data.message;
  if (FINAL.includes(data.state) && page.source) page.source.close();
  renderQueue();
}

function clock(seconds) {
  if (seconds == null || !isFinite(seconds)) return "–";
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
}

function onProgress(data) {
  page.curves.limit = Math.max(page.curves.limit, data.limit);
  $("bar").style.width = `${Math.min(100, (100 * data.step) / data.limit)}%`;
  const loss = data.loss == null ? "–" : data.loss.toExponential(2);
  const rate = data.rate == null ? "–" : data.rate.toFixed(1);
  const part = page.curves.part;
  const prefix = part ? `${part} · ` : "";
  $("stats").textContent = `${prefix}step ${data.step} / ${data.limit} · ${rate} it/s · ` +
    `elapsed ${clock(data.elapsed)} · left ${clock(data.left)} · loss ${loss}`;
  page.job.step = data.step;
  scheduleDraw();
}

function onPoint(data) {
  const curves = page.curves;
  if (data.loss != null && data.loss > 0) curves.loss.push([data.step, data.loss]);
  for (const [name, update] of Object.entries(data.criteria || {})) {
    const series = curves.criteria[name] || (curves.criteria[name] = { points: [], candidate: null });
    update.steps.forEach((step, i) => {
      if (update.scores[i] != null) series.points.push([step, update.scores[i]]);
    });
    series.candidate = update.candidate;
    series.primary = update.primary;
    series.lowerIsBetter = update.lower_is_better;
  }
  scheduleDraw();
}

function onDone(data) {
  const curves = page.curves;
  curves.stopStep = data.stop_step;
  curves.stoppedAt = data.interrupted ? (data.run_steps ?? data.iterations) : null;
  for (const [name, step] of Object.entries(data.candidates || {})) {
    if (curves.criteria[name]) curves.criteria[name].candidate = step;
  }
  const id = page.job.id;
  $("after").src = url(`/api/jobs/${id}/result.png`, { n: page.lastEvent });
  $("after-label").textContent = data.interrupted ? "best so far" : "result";
  $("download").href = url(`/api/jobs/${id}/result`);
  $("download").download = data.result_name;
  $("download").textContent = `Download ${data.result_name}`;
  $("report").href = url(`/api/jobs/${id}/report.html`);
  $("downloads").hidden = false;
  $("summary").textContent = data.summary;
  showTab("compare");
  scheduleDraw();
}

async function act(action) {
  if (!page.job) return;
  $("run-error").textContent = "";
  try {
    const answer = await api(`/api/jobs/${page.job.id}/${action}`, { method: "POST" });
    const job = await answer.json();
    if (action === "continue") {
      $("downloads").hidden = true;
      page.curves.stoppedAt = null;
      page.curves.stopStep = null;
      attach(job, false);
    } else {
      setState(job.state, job.message, job.can_continue);
    }
    refreshQueue();
  } catch (error) {
    $("run-error").textContent = error.message;
  }
}

// --- the curves ----------------------------------------------------------------------------

let drawPending = false;

function scheduleDraw() {
  if (drawPending) return;
  drawPending = true;
  requestAnimationFrame(() => { drawPending = false; drawCurves(); });
}

function drawCurves() {
  const curves = page.curves;
  if (!curves) return;
  // The x axis runs a little past the last step (to the budget at most), so a long budget does
  // not squeeze the curves into its first pixels.
  const seen = Math.max(1, ...curves.loss.map((p) => p[0]));
  const lastStep = Math.max(seen, Math.min(curves.limit || seen, niceAbove(seen * 1.25)));
  const primary = Object.values(curves.criteria).find((c) => c.primary);
  const stops = stopMarkers(curves);
  if (primary && primary.candidate) stops.push({ x: primary.candidate, colour: "#d9822b", dash: true, label: "candidate" });
  drawChart($("loss-chart"), {
    title: "loss ‖A(x) − y‖² (log scale)", series: [{ points: curves.loss, colour: COLOURS[0] }],
    log: true, xMax: lastStep, markers: stops,
  });
  const holder = $("criteria-charts");
  Object.entries(curves.criteria).forEach(([name, series], index) => {
    let canvas = holder.querySelector(`canvas[data-name="${name}"]`);
    if (!canvas) {
      canvas = document.createElement("canvas");
      canvas.className = "chart";
      canvas.dataset.name = name;
      holder.append(canvas);
    }
    const markers = stopMarkers(curves);
    if (series.candidate) markers.push({ x: series.candidate, colour: "#d9822b", dash: true, label: `candidate ${series.candidate}` });
    const role = series.primary ? "stops the run" : "recorded";
    drawChart(canvas, {
      title: `${name} (${role}; ${series.lowerIsBetter ? "lower" : "higher"} is better)`,
      series: [{ points: series.points, colour: COLOURS[(index + 1) % COLOURS.length] }],
      xMax: lastStep, markers,
    });
  });
}

function niceAbove(value) {
  const power = 10 ** Math.floor(Math.log10(Math.max(value, 1)));
  return [1, 2, 2.5, 5, 10].map((m) => m * power).find((v) => v >= value);
}

function stopMarkers(curves) {
  const markers = [];
  if (curves.stopStep) markers.push({ x: curves.stopStep, colour: "#c62f2f", label: `returned: step ${curves.stopStep}` });
  if (curves.stoppedAt) markers.push({ x: curves.stoppedAt, colour: "#687085", label: `stopped at ${curves.stoppedAt}` });
  return markers;
}

function drawChart(canvas, chart) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth;
  const height = canvas.clientHeight;
  if (!width || !height) return;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  const g = canvas.getContext("2d");
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.clearRect(0, 0, width, height);
  g.font = "12px system-ui, sans-serif";
  g.fillStyle = "#1d2230";
  g.fillText(chart.title, 4, 13);
  const box = { left: 58, right: width - 10, top: 22, bottom: height - 20 };
  g.strokeStyle = "#dde1e8";
  g.strokeRect(box.left, box.top, box.right - box.left, box.bottom - box.top);
  const points = chart.series.flatMap((s) => s.points).filter((p) => !chart.log || p[1] > 0);
  const xOf = (x) => box.left + ((box.right - box.left) * x) / chart.xMax;
  g.fillStyle = "#687085";
  g.fillText("0", box.left - 4, height - 6);
  g.fillText(String(chart.xMax), box.right - 8 * String(chart.xMax).length, height - 6);
  if (points.length) {
    const f = chart.log ? Math.log10 : (v) => v;
    let low = Math.min(...points.map((p) => f(p[1])));
    let high = Math.max(...points.map((p) => f(p[1])));
    if (high - low < 1e-12) { low -= 0.5; high += 0.5; }
    const yOf = (v) => box.bottom - ((box.bottom - box.top) * (f(v) - low)) / (high - low);
    const label = (v) => (chart.log ? (10 ** v).toExponential(1) : Number(v.toPrecision(3)).toString());
    g.fillText(label(high), 2, box.top + 10);
    g.fillText(label(low), 2, box.bottom);
    for (const series of chart.series) {
      g.strokeStyle = series.colour;
      g.lineWidth = 1.6;
      g.beginPath();
      series.points.filter((p) => !chart.log || p[1] > 0).forEach(([x, y], i) => {
        if (i) g.lineTo(xOf(x), yOf(y)); else g.moveTo(xOf(x), yOf(y));
      });
      g.stroke();
    }
  }
  chart.markers.forEach((marker, i) => {
    g.strokeStyle = g.fillStyle = marker.colour;
    g.setLineDash(marker.dash ? [4, 3] : []);
    g.beginPath();
    g.moveTo(xOf(marker.x), box.top);
    g.lineTo(xOf(marker.x), box.bottom);
    g.stroke();
    g.setLineDash([]);
    g.fillText(marker.label, Math.min(xOf(marker.x) + 3, box.right - 110), box.top + 12 + 13 * i);
  });
}

// --- the queue -----------------------------------------------------------------------------

let jobs = [];

async function refreshQueue() {
  try {
    jobs = await (await api("/api/jobs")).json();
    renderQueue();
  } catch (error) { /* the next poll tries again */ }
}

function renderQueue() {
  const list = $("jobs");
  list.innerHTML = "";
  for (const job of [...jobs].reverse()) {
    const item = document.createElement("li");
    const current = page.job && page.job.id === job.id;
    item.className = current ? "current" : "";
    const state = current ? page.job.state : job.state;
    const where = state === "queued" && job.position ? ` #${job.position} in line` : "";
    const step = state === "running" && job.step ? ` ${job.step}/${job.limit}` : "";
    item.append(`${job.name} · ${job.task} `);
    const label = document.createElement("span");
    label.className = "state";
    label.textContent = `${state}${where}${step}`;
    item.append(label);
    if (["queued", "running", "stopping"].includes(state)) {
      const cancel = document.createElement("button");
      cancel.textContent = "cancel";
      cancel.addEventListener("click", async (event) => {
        event.stopPropagation();
        try { await api(`/api/jobs/${job.id}/cancel`, { method: "POST" }); } catch (e) { /* gone */ }
        refreshQueue();
      });
      item.append(cancel);
    }
    item.addEventListener("click", () => { if (!current) attach(job); });
    list.append(item);
  }
}

// --- start ---------------------------------------------------------------------------------

function setupDrop() {
  const drop = $("drop");
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    if (event.dataTransfer.files.length) sendImage(event.dataTransfer.files[0]);
  });
  $("file").addEventListener("change", (event) => {
    if (event.target.files.length) sendImage(event.target.files[0]);
    event.target.value = "";
  });
}

async function main() {
  setupDrop();
  setupMask();
  document.querySelectorAll('input[name="task"]').forEach((r) => r.addEventListener("change", onTask));
  for (const id of ["tiling", "ensemble", "ensemble-transforms"]) $(id).addEventListener("change", fillCriteria);
  $("start").addEventListener("click", start);
  $("stop").addEventListener("click", () => act("stop"));
  $("cancel").addEventListener("click", () => act("cancel"));
  $("continue").addEventListener("click", () => act("continue"));
  $("tab-edit").addEventListener("click", () => showTab("edit"));
  $("tab-compare").addEventListener("click", () => showTab("compare"));
  $("compare-slider").addEventListener("input", (event) => {
    $("after-clip").style.clipPath = `inset(0 0 0 ${event.target.value}%)`;
  });
  $("after-clip").style.clipPath = "inset(0 0 0 50%)";
  window.addEventListener("resize", () => { showTab($("compare").hidden ? "edit" : "compare"); scheduleDraw(); });
  try {
    page.info = await (await api("/api/info")).json();
    $("device").textContent = `device: ${page.info.device} · autodip ${page.info.version}`;
    fillOptions(page.info);
  } catch (error) {
    $("form-error").textContent = error.message;
  }
  onTask();
  refreshQueue();
  setInterval(refreshQueue, 1500);
}

main();
