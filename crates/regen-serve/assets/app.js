// regen serve's page: three views (restore, generate, runs) over the JSON API that the
// README documents. No framework and no network beyond this server.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { models: null };

function notice(text) {
  $("notice").textContent = text || "";
}

async function apiError(response) {
  try {
    return (await response.json()).error;
  } catch {
    return `${response.status} ${response.statusText}`;
  }
}

async function fetchOk(url, options) {
  const r = await fetch(url, options);
  if (!r.ok) throw new Error(await apiError(r));
  return r;
}

// ---------------------------------------------------------------- pages

const pages = ["restore", "generate", "runs"];

function show(page) {
  if (!pages.includes(page)) page = "restore";
  for (const p of pages) $(`page-${p}`).hidden = p !== page;
  for (const a of document.querySelectorAll("nav a")) {
    a.classList.toggle("active", a.dataset.page === page);
  }
  notice("");
  if (page === "runs") runs.start();
  else runs.stop();
  if (page === "restore") view.fitIfNew();
}

for (const a of document.querySelectorAll("nav a")) {
  a.addEventListener("click", (e) => {
    e.preventDefault();
    history.pushState(null, "", a.getAttribute("href"));
    show(a.dataset.page);
  });
}
window.addEventListener("popstate", () => show(location.pathname.slice(1)));

// ---------------------------------------------------------------- restore: the view

const photo = $("photo");
const maskCanvas = $("mask");
const after = $("after");
const stage = $("stage");
const viewport = $("viewport");

// `auto`: the photo is fitted to the viewport until the user zooms or pans.
const view = {
  scale: 1, x: 0, y: 0, width: 0, height: 0, auto: true,
  apply() {
    stage.style.transform = `translate(${this.x}px, ${this.y}px) scale(${this.scale})`;
    $("zoom-value").textContent = `${Math.round(this.scale * 100)}%`;
  },
  fit() {
    if (!this.width) return;
    const vw = viewport.clientWidth, vh = viewport.clientHeight;
    if (!vw || !vh) return;
    this.scale = Math.min(vw / this.width, vh / this.height);
    this.x = (vw - this.width * this.scale) / 2;
    this.y = (vh - this.height * this.scale) / 2;
    this.auto = true;
    this.apply();
  },
  fitIfNew() {
    if (this.auto) this.fit();
  },
  zoomAt(factor, cx, cy) {
    this.auto = false;
    const s = Math.min(32, Math.max(0.02, this.scale * factor));
    this.x = cx - ((cx - this.x) * s) / this.scale;
    this.y = cy - ((cy - this.y) * s) / this.scale;
    this.scale = s;
    this.apply();
  },
  // Image coordinates of a pointer event.
  at(e) {
    const r = viewport.getBoundingClientRect();
    return [(e.clientX - r.left - this.x) / this.scale, (e.clientY - r.top - this.y) / this.scale];
  },
};

$("zoom-in").onclick = () => view.zoomAt(1.25, viewport.clientWidth / 2, viewport.clientHeight / 2);
$("zoom-out").onclick = () => view.zoomAt(0.8, viewport.clientWidth / 2, viewport.clientHeight / 2);
$("zoom-fit").onclick = () => view.fit();
viewport.addEventListener("wheel", (e) => {
  e.preventDefault();
  const r = viewport.getBoundingClientRect();
  view.zoomAt(Math.pow(1.0015, -e.deltaY), e.clientX - r.left, e.clientY - r.top);
}, { passive: false });
window.addEventListener("resize", () => view.auto && view.fit());

// ---------------------------------------------------------------- restore: the photo

const restore = { file: null, name: "photo", job: null, poll: null, result: null };

async function decodeForView(file) {
  try {
    return await createImageBitmap(file);
  } catch {
    // A format the browser cannot show (TIFF): regen decodes it for the view.
    const form = new FormData();
    form.append("image", file);
    const r = await fetchOk("/api/preview", { method: "POST", body: form });
    return await createImageBitmap(await r.blob());
  }
}

async function openPhoto(file) {
  notice("");
  try {
    const bitmap = await decodeForView(file);
    restore.file = file;
    restore.name = file.name.replace(/\.[^.]*$/, "") || "photo";
    view.width = photo.width = maskCanvas.width = bitmap.width;
    view.height = photo.height = maskCanvas.height = bitmap.height;
    photo.getContext("2d").drawImage(bitmap, 0, 0);
    brush.strokes = [];
    brush.undone = [];
    brush.redraw();
    clearResult();
    $("empty").hidden = true;
    $("file-info").textContent = `${file.name}: ${bitmap.width} x ${bitmap.height}`;
    $("run").disabled = false;
    view.fit();
  } catch (err) {
    notice(`${file.name}: ${err.message || "cannot be read"}`);
  }
}

$("file").addEventListener("change", (e) => e.target.files[0] && openPhoto(e.target.files[0]));
const drop = $("drop");
for (const ev of ["dragenter", "dragover"]) {
  drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.add("over"); });
}
for (const ev of ["dragleave", "drop"]) {
  drop.addEventListener(ev, () => drop.classList.remove("over"));
}
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  if (e.dataTransfer.files[0]) openPhoto(e.dataTransfer.files[0]);
});
// The photo area takes a dropped photo too.
viewport.addEventListener("dragover", (e) => e.preventDefault());
viewport.addEventListener("drop", (e) => {
  e.preventDefault();
  if (e.dataTransfer.files[0]) openPhoto(e.dataTransfer.files[0]);
});

// ---------------------------------------------------------------- restore: options

function restoreModels() {
  const task = $("task").value;
  const select = $("model");
  const keep = select.value;
  select.innerHTML = "";
  // A task no shipped model does has no default: its models are --models'.
  if (taskEntry().default !== false) select.append(new Option("default", "default"));
  for (const m of state.models.restore.filter((m) => m.task === task)) {
    const label = `${m.name} (${m.channels === 3 ? "colour" : "gray"}${m.source === "folder" ? ", --models" : ""})`;
    select.append(new Option(label, m.name));
  }
  if ([...select.options].some((o) => o.value === keep)) select.value = keep;
  restoreOptions();
}

// The chosen task as the server describes it (what its default model takes).
function taskEntry() {
  return state.models.tasks.find((t) => t.name === $("task").value) || {};
}

// The task menu, from the server's list of tasks.
function taskMenu() {
  const select = $("task");
  for (const t of state.models.tasks) select.append(new Option(t.label, t.name));
}

function chosenModel() {
  return state.models.restore.find((m) => m.name === $("model").value);
}

function restoreOptions() {
  const m = chosenModel();
  const takesSigma = m ? m.noise_level : taskEntry().noise_level;
  $("sigma-row").hidden = !takesSigma;
  $("blur-row").hidden = !(m && m.non_blind);
  $("mask-tools").hidden = !taskEntry().mask;
  const from = maskFrom();
  $("mask-file").hidden = from !== "file";
  $("brush-tools").hidden = from !== "paint";
  maskCanvas.hidden = !taskEntry().mask || from !== "paint";
}

function maskFrom() {
  return document.querySelector("input[name=mask-from]:checked").value;
}

$("task").addEventListener("change", () => {
  clearResult();
  restoreModels();
});
$("model").addEventListener("change", restoreOptions);
for (const r of document.querySelectorAll("input[name=mask-from]")) r.addEventListener("change", restoreOptions);
$("sigma-auto").addEventListener("change", () => ($("sigma").disabled = $("sigma-auto").checked));
$("sigma").addEventListener("input", () => ($("sigma-value").textContent = $("sigma").value));

// ---------------------------------------------------------------- restore: the brush

const brush = {
  strokes: [], undone: [], current: null, erase: false,
  size() { return Number($("brush").value); },
  paint(ctx, s) {
    ctx.save();
    ctx.globalCompositeOperation = s.erase ? "destination-out" : "source-over";
    ctx.strokeStyle = ctx.fillStyle = "rgb(255, 40, 40)";
    ctx.lineWidth = s.size;
    ctx.lineCap = ctx.lineJoin = "round";
    const [x0, y0] = s.points[0];
    ctx.beginPath();
    ctx.arc(x0, y0, s.size / 2, 0, 2 * Math.PI);
    ctx.fill();
    if (s.points.length > 1) {
      ctx.beginPath();
      ctx.moveTo(x0, y0);
      for (const [x, y] of s.points.slice(1)) ctx.lineTo(x, y);
      ctx.stroke();
    }
    ctx.restore();
  },
  redraw() {
    const ctx = maskCanvas.getContext("2d");
    ctx.clearRect(0, 0, maskCanvas.width, maskCanvas.height);
    for (const s of this.strokes) this.paint(ctx, s);
    $("undo").disabled = !this.strokes.length;
    $("redo").disabled = !this.undone.length;
  },
  undo() {
    if (this.strokes.length) this.undone.push(this.strokes.pop());
    this.redraw();
  },
  redo() {
    if (this.undone.length) this.strokes.push(this.undone.pop());
    this.redraw();
  },
  painted() {
    return this.strokes.some((s) => !s.erase);
  },
  // The mask as regen reads it: white where painted, black elsewhere.
  async png() {
    const w = maskCanvas.width, h = maskCanvas.height;
    const white = new OffscreenCanvas(w, h);
    const wc = white.getContext("2d");
    wc.drawImage(maskCanvas, 0, 0);
    wc.globalCompositeOperation = "source-in";
    wc.fillStyle = "#fff";
    wc.fillRect(0, 0, w, h);
    const out = new OffscreenCanvas(w, h);
    const oc = out.getContext("2d");
    oc.fillStyle = "#000";
    oc.fillRect(0, 0, w, h);
    oc.drawImage(white, 0, 0);
    return await out.convertToBlob({ type: "image/png" });
  },
};

$("brush").addEventListener("input", () => ($("brush-value").textContent = $("brush").value));
$("eraser").onclick = () => {
  brush.erase = !brush.erase;
  $("eraser").setAttribute("aria-pressed", String(brush.erase));
};
$("undo").onclick = () => brush.undo();
$("redo").onclick = () => brush.redo();
$("clear").onclick = () => {
  if (brush.strokes.length) brush.undone = [];
  brush.strokes = [];
  brush.redraw();
};

let spaceDown = false;
let panning = null;
window.addEventListener("keydown", (e) => {
  if (e.target.matches("input, select, textarea") || $("page-restore").hidden) return;
  if (e.code === "Space") { spaceDown = true; e.preventDefault(); }
  if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "z") {
    e.preventDefault();
    if (e.shiftKey) brush.redo(); else brush.undo();
  }
  if (e.key === "e") $("eraser").click();
});
window.addEventListener("keyup", (e) => { if (e.code === "Space") spaceDown = false; });
viewport.addEventListener("contextmenu", (e) => e.preventDefault());

function painting() {
  return restore.file && taskEntry().mask && maskFrom() === "paint" && after.hidden;
}

viewport.addEventListener("pointerdown", (e) => {
  if (!restore.file) return;
  viewport.setPointerCapture(e.pointerId);
  if (e.button !== 0 || spaceDown || !painting()) {
    panning = { x: e.clientX, y: e.clientY };
    return;
  }
  brush.current = { size: brush.size(), erase: brush.erase, points: [view.at(e)] };
  brush.strokes.push(brush.current);
  brush.undone = [];
  brush.redraw();
});
viewport.addEventListener("pointermove", (e) => {
  const cursor = $("cursor");
  if (painting()) {
    const [x, y] = view.at(e);
    const d = brush.size();
    Object.assign(cursor.style, { left: `${x - d / 2}px`, top: `${y - d / 2}px`, width: `${d}px`, height: `${d}px`, borderWidth: `${1 / view.scale}px` });
    cursor.hidden = false;
  } else {
    cursor.hidden = true;
  }
  if (panning) {
    view.auto = false;
    view.x += e.clientX - panning.x;
    view.y += e.clientY - panning.y;
    panning = { x: e.clientX, y: e.clientY };
    view.apply();
  } else if (brush.current) {
    brush.current.points.push(view.at(e));
    brush.redraw();
  }
});
for (const ev of ["pointerup", "pointercancel"]) {
  viewport.addEventListener(ev, () => { panning = null; brush.current = null; });
}
viewport.addEventListener("pointerleave", () => ($("cursor").hidden = true));

// ---------------------------------------------------------------- restore: running a job

function clearResult() {
  if (restore.result) URL.revokeObjectURL(restore.result);
  restore.result = null;
  after.hidden = true;
  after.removeAttribute("src");
  $("compare-row").hidden = true;
  $("download").hidden = true;
  $("progress").hidden = true;
  $("progress-text").textContent = "";
  restoreOptions();
}

function busy(on) {
  $("run").disabled = on;
  $("cancel").hidden = !on;
  $("progress").hidden = !on;
}

$("run").onclick = async () => {
  notice("");
  const task = $("task").value;
  const form = new FormData();
  form.append("image", restore.file);
  form.append("task", task);
  form.append("model", $("model").value);
  if (!$("sigma-row").hidden && !$("sigma-auto").checked) form.append("sigma", $("sigma").value);
  if (!$("blur-row").hidden) form.append("blur_sigma", $("blur-sigma").value);
  if (taskEntry().mask) {
    const from = maskFrom();
    if (from === "paint") {
      if (!brush.painted()) return notice("Paint over what to remove first.");
      form.append("mask", await brush.png(), "mask.png");
    } else if (from === "file") {
      const f = $("mask-file").files[0];
      if (!f) return notice("Pick a mask file first.");
      form.append("mask", f);
    } else {
      form.append("mask_from", "alpha");
    }
  }
  clearResult();
  busy(true);
  $("progress").removeAttribute("value");
  $("progress-text").textContent = "Waiting for the model...";
  try {
    const r = await fetchOk("/api/restore", { method: "POST", body: form });
    restore.job = (await r.json()).id;
    track(restore.job);
  } catch (err) {
    busy(false);
    $("progress-text").textContent = "";
    notice(err.message);
  }
};

$("cancel").onclick = async () => {
  if (restore.job == null) return;
  $("progress-text").textContent = "Cancelling...";
  await fetch(`/api/jobs/${restore.job}/cancel`, { method: "POST" });
};

function track(id) {
  clearInterval(restore.poll);
  restore.poll = setInterval(async () => {
    let s;
    try {
      s = await (await fetchOk(`/api/jobs/${id}`)).json();
    } catch (err) {
      clearInterval(restore.poll);
      busy(false);
      return notice(err.message);
    }
    if (s.total) {
      $("progress").max = s.total;
      $("progress").value = s.done;
      $("progress-text").textContent = `${s.state === "running" ? "Restoring" : s.state}: tile ${s.done} of ${s.total}`;
    } else {
      $("progress-text").textContent = s.state === "queued" ? "Waiting in the queue..." : "Preparing...";
    }
    if (["queued", "running"].includes(s.state)) return;
    clearInterval(restore.poll);
    busy(false);
    restore.job = null;
    if (s.state === "done") await showResult(id);
    else if (s.state === "cancelled") $("progress-text").textContent = `Cancelled after ${s.done} of ${s.total} tiles.`;
    else notice(s.error || "the job failed");
  }, 250);
}

async function showResult(id) {
  const blob = await (await fetchOk(`/api/jobs/${id}/result`)).blob();
  restore.result = URL.createObjectURL(blob);
  after.src = restore.result;
  await after.decode();
  // An upscaler's result is larger: drawn over the photo at the photo's size, so the
  // slider compares the same region, and zooming in shows the added detail.
  after.style.width = `${view.width}px`;
  after.style.height = `${view.height}px`;
  after.hidden = false;
  maskCanvas.hidden = true;
  $("compare-row").hidden = false;
  compare();
  const link = $("download");
  link.href = restore.result;
  link.download = `${restore.name}-restored.png`;
  link.hidden = false;
  $("progress-text").textContent = taskEntry().mask
    ? "Done. Drag the slider to compare; Clear starts a new mask."
    : "Done. Drag the slider to compare.";
}

function compare() {
  after.style.clipPath = `inset(0 0 0 ${$("compare").value}%)`;
}
$("compare").addEventListener("input", compare);
$("clear").addEventListener("click", () => { if (!after.hidden) clearResult(); });

// ---------------------------------------------------------------- generate

function generateModels() {
  const select = $("gen-model");
  for (const m of state.models.generate) {
    select.append(new Option(`${m.name} (${m.family}${m.classes ? `, ${m.classes} classes` : ""})`, m.name));
  }
  generateOptions();
}

function genModel() {
  return state.models.generate.find((m) => m.name === $("gen-model").value);
}

function generateOptions() {
  const m = genModel();
  if (!m) return;
  const cls = $("gen-class");
  cls.innerHTML = "";
  cls.append(new Option("every class in turn", ""));
  for (let k = 0; k < m.classes; k++) cls.append(new Option(String(k), String(k)));
  $("gen-class-row").hidden = !m.classes;
  $("between").hidden = true;
}
$("gen-model").addEventListener("change", generateOptions);

function genQuery(extra) {
  const q = new URLSearchParams({ model: $("gen-model").value, seed: $("gen-seed").value || "0" });
  if ($("gen-class").value !== "" && !$("gen-class-row").hidden) q.set("class", $("gen-class").value);
  for (const [k, v] of Object.entries(extra)) q.set(k, v);
  return q;
}

$("gen-run").onclick = async () => {
  notice("");
  $("gen-run").disabled = true;
  try {
    const r = await fetchOk(`/api/generate?${genQuery({ count: $("gen-count").value })}`);
    const img = $("gen-grid");
    if (img.src) URL.revokeObjectURL(img.src);
    img.src = URL.createObjectURL(await r.blob());
    await img.decode();
    img.hidden = false;
    const m = genModel();
    const n = Number($("gen-count").value);
    $("between").hidden = !m.encoder;
    $("between-a").max = $("between-b").max = String(n - 1);
    if (m.encoder) between();
  } catch (err) {
    notice(err.message);
  } finally {
    $("gen-run").disabled = false;
  }
};

// Clicking a sample makes it one end of the path: the first click the start, the next the end.
let pickEnd = false;
$("gen-grid").addEventListener("click", (e) => {
  if ($("between").hidden) return;
  const img = e.target;
  const n = Number($("gen-count").value);
  const cols = Math.ceil(Math.sqrt(n));
  const x = (e.offsetX * img.naturalWidth) / img.clientWidth;
  const y = (e.offsetY * img.naturalHeight) / img.clientHeight;
  const pitch = (img.naturalWidth - 2) / cols;
  const i = Math.floor((y - 1) / pitch) * cols + Math.floor((x - 1) / pitch);
  if (i < 0 || i >= n) return;
  $(pickEnd ? "between-b" : "between-a").value = String(i);
  pickEnd = !pickEnd;
  between();
});

let betweenTimer = null;
function between() {
  $("between-t-value").textContent = Number($("between-t").value).toFixed(2);
  clearTimeout(betweenTimer);
  betweenTimer = setTimeout(async () => {
    try {
      const q = genQuery({ a: $("between-a").value, b: $("between-b").value, t: $("between-t").value });
      const r = await fetchOk(`/api/interpolate?${q}`);
      const img = $("between-img");
      if (img.src) URL.revokeObjectURL(img.src);
      img.src = URL.createObjectURL(await r.blob());
    } catch (err) {
      notice(err.message);
    }
  }, 60);
}
for (const id of ["between-t", "between-a", "between-b"]) $(id).addEventListener("input", between);

// ---------------------------------------------------------------- runs

const SKIP = new Set(["step", "epoch", "elapsed_s", "s_per_step"]);
const ORDER = ["loss", "val_psnr", "val_ssim", "d_loss", "g_loss", "d_real", "d_fake", "diversity", "r1",
  "val_nelbo", "recon", "kl", "val_recon", "val_kl", "kl_weight", "lr"];
const TITLES = {
  loss: "training loss", val_psnr: "validation PSNR (dB)", val_ssim: "validation SSIM",
  d_loss: "discriminator loss", g_loss: "generator loss", d_real: "D(real): mean probability",
  d_fake: "D(fake): mean probability", diversity: "sample diversity", r1: "R1 penalty",
  val_nelbo: "validation -ELBO (nats)", recon: "reconstruction (nats)", kl: "KL (nats)",
  lr: "learning rate",
};

const runs = {
  timer: null, selected: null, modified: null, images: [],
  start() {
    this.refresh();
    clearInterval(this.timer);
    this.timer = setInterval(() => this.refresh(), 2000);
  },
  stop() {
    clearInterval(this.timer);
    this.timer = null;
  },
  async refresh() {
    let list;
    try {
      list = await (await fetchOk("/api/runs")).json();
    } catch (err) {
      $("runs-empty").textContent = err.message;
      return;
    }
    $("runs-empty").textContent = list.length ? "" : "No run folders yet.";
    const ul = $("run-list");
    ul.innerHTML = "";
    for (const r of list) {
      const li = document.createElement("li");
      const b = document.createElement("button");
      b.textContent = `${r.name} (${r.kind ?? "unknown"}${r.last_step != null ? `, step ${r.last_step}` : ""})`;
      b.dataset.run = r.name;
      b.classList.toggle("active", r.name === this.selected);
      b.onclick = () => this.select(r.name);
      li.append(b);
      ul.append(li);
    }
    if (!this.selected && list.length) return this.select(list[0].name);
    const cur = list.find((r) => r.name === this.selected);
    if (cur && cur.modified !== this.modified) this.load();
  },
  select(name) {
    this.selected = name;
    this.modified = null;
    for (const b of document.querySelectorAll("#run-list button")) b.classList.toggle("active", b.dataset.run === name);
    this.load();
  },
  async load() {
    let run;
    try {
      run = await (await fetchOk(`/api/runs/${encodeURIComponent(this.selected)}`)).json();
    } catch (err) {
      return notice(err.message);
    }
    this.modified = run.modified;
    $("run-title").textContent = run.name;
    $("run-summary").textContent = `${run.kind ?? "unknown"} run: ${run.records} records${run.last_step != null ? `, last step ${run.last_step}` : ""}; updated ${new Date(run.modified * 1000).toLocaleString()}`;
    $("run-config-box").hidden = !run.config;
    $("run-config").textContent = run.config || "";
    drawCharts(run.metrics);
    const select = $("run-image");
    const latest = select.value === "" || select.value === this.images[this.images.length - 1];
    const keep = select.value;
    this.images = run.images.filter((i) => i.startsWith("samples/")).concat(run.images.filter((i) => !i.startsWith("samples/")));
    select.innerHTML = "";
    for (const i of this.images) select.append(new Option(i, i));
    $("run-image-row").hidden = !this.images.length;
    if (this.images.length) {
      const samples = run.images.filter((i) => i.startsWith("samples/"));
      select.value = !latest && this.images.includes(keep) ? keep : (samples[samples.length - 1] || this.images[0]);
      showRunImage();
    } else {
      $("run-image-view").hidden = true;
    }
  },
};

function showRunImage() {
  const img = $("run-image-view");
  img.src = `/api/runs/${encodeURIComponent(runs.selected)}/images/${$("run-image").value}?m=${runs.modified}`;
  img.hidden = false;
}
$("run-image").addEventListener("change", showRunImage);

function drawCharts(metrics) {
  const keys = new Set();
  for (const r of metrics) for (const [k, v] of Object.entries(r)) if (!SKIP.has(k) && typeof v === "number") keys.add(k);
  const sorted = [...keys].sort((a, b) => {
    const ia = ORDER.indexOf(a), ib = ORDER.indexOf(b);
    return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || a.localeCompare(b);
  });
  const box = $("charts");
  box.innerHTML = "";
  for (const key of sorted) {
    const points = metrics.filter((r) => typeof r[key] === "number" && typeof r.step === "number").map((r) => [r.step, r[key]]);
    if (!points.length) continue;
    const fig = document.createElement("figure");
    fig.dataset.metric = key;
    const canvas = document.createElement("canvas");
    const cap = document.createElement("figcaption");
    const [lastStep, last] = points[points.length - 1];
    cap.textContent = `${TITLES[key] || key}: ${fmt(last)} at step ${lastStep}`;
    fig.append(cap, canvas);
    box.append(fig);
    plot(canvas, points, key.includes("loss") || key === "lr");
  }
}

function fmt(v) {
  return Math.abs(v) >= 1000 || (Math.abs(v) < 0.01 && v !== 0) ? v.toExponential(3) : v.toPrecision(4);
}

function plot(canvas, points, maybeLog) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || 320, h = canvas.clientHeight || 180;
  canvas.width = w * dpr;
  canvas.height = h * dpr;
  const ctx = canvas.getContext("2d");
  ctx.scale(dpr, dpr);
  const ys = points.map((p) => p[1]);
  const log = maybeLog && Math.min(...ys) > 0 && Math.max(...ys) / Math.min(...ys) > 20;
  const ty = (v) => (log ? Math.log10(v) : v);
  let [y0, y1] = [Math.min(...ys.map(ty)), Math.max(...ys.map(ty))];
  if (y0 === y1) { y0 -= 1; y1 += 1; }
  const x0 = points[0][0], x1 = Math.max(points[points.length - 1][0], x0 + 1);
  const L = 56, R = 8, T = 8, B = 20;
  const px = (x) => L + ((x - x0) / (x1 - x0)) * (w - L - R);
  const py = (v) => T + (1 - (ty(v) - y0) / (y1 - y0)) * (h - T - B);
  ctx.strokeStyle = "#d9d9d4";
  ctx.fillStyle = "#6b6b66";
  ctx.font = "11px system-ui, sans-serif";
  ctx.strokeRect(L, T, w - L - R, h - T - B);
  const inv = (t) => (log ? Math.pow(10, t) : t);
  ctx.textAlign = "right";
  ctx.fillText(fmt(inv(y1)), L - 4, T + 9);
  ctx.fillText(fmt(inv(y0)), L - 4, h - B);
  ctx.textAlign = "left";
  ctx.fillText(String(x0), L, h - 5);
  ctx.textAlign = "right";
  ctx.fillText(`step ${x1}${log ? " (log scale)" : ""}`, w - R, h - 5);
  ctx.strokeStyle = "#2a6fdb";
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  points.forEach(([x, v], i) => (i ? ctx.lineTo(px(x), py(v)) : ctx.moveTo(px(x), py(v))));
  ctx.stroke();
  if (points.length === 1) {
    ctx.fillStyle = "#2a6fdb";
    ctx.fillRect(px(points[0][0]) - 2, py(points[0][1]) - 2, 4, 4);
  }
}

// ---------------------------------------------------------------- start

(async () => {
  try {
    state.models = await (await fetchOk("/api/models")).json();
  } catch (err) {
    return notice(`cannot list models: ${err.message}`);
  }
  taskMenu();
  restoreModels();
  generateModels();
  document.body.dataset.ready = "true";
})();
show(location.pathname.slice(1));
