// gansteer explorer page: plain JS, no build step. Talks to /api/* (see web/app.py).
"use strict";

const $ = (id) => document.getElementById(id);
const clientId = Math.random().toString(36).slice(2, 12);

const state = { seed: 0, shifts: {}, layers: null, cls: null };
let info = null;
let shown = 0; // directions with a slider on the page

// ---------------------------------------------------------------- rendering
// At most one render request in flight; slider moves made meanwhile collapse into one pending request for the
// latest position, so stale positions are never sent. The server also drops a request older than one it saw.
const render = { seq: 0, shownSeq: 0, inFlight: false, pending: false, url: null };

function requestRender() {
  render.seq += 1;
  render.pending = true;
  pump();
}

function payload() {
  const shifts = {};
  for (const [k, v] of Object.entries(state.shifts)) if (v !== 0) shifts[k] = v;
  const body = { seed: state.seed, shifts, client: clientId, seq: render.seq };
  if (state.latent) body.latent = state.latent; // an uploaded photo's latent (photo.js) overrides the seed
  if (state.layers) body.layers = state.layers;
  if (state.cls !== null) body["class"] = state.cls;
  return body;
}

async function pump() {
  if (render.inFlight || !render.pending) return;
  render.pending = false;
  render.inFlight = true;
  const body = payload();
  const t0 = performance.now();
  try {
    const r = await fetch("/api/render", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    if (r.ok) {
      await show(await r.blob(), body.seq, t0);
    } else if (r.status !== 409) {
      status((await errorOf(r)), true);
    }
  } catch (e) {
    status(`render failed: ${e}`, true);
  } finally {
    render.inFlight = false;
    pump();
  }
}

async function show(blob, seq, t0) {
  if (seq < render.shownSeq) return;
  const img = $("image");
  const url = URL.createObjectURL(blob);
  img.src = url;
  try { await img.decode(); } catch (e) { /* shown anyway once loaded */ }
  if (render.url) URL.revokeObjectURL(render.url);
  render.url = url;
  render.shownSeq = seq;
  img.dataset.seq = String(seq);
  const link = $("download");
  link.href = url;
  link.download = `gansteer-seed${state.seed}.png`;
  status(`${(performance.now() - t0).toFixed(0)} ms`);
  document.dispatchEvent(new CustomEvent("explorer:shown", { detail: { seq } }));
}

async function errorOf(r) {
  try { return (await r.json()).error || `${r.status} ${r.statusText}`; } catch (e) { return `${r.status} ${r.statusText}`; }
}

function status(text, isError = false) {
  const el = $("status");
  el.textContent = text;
  el.classList.toggle("error", isError);
}

// ---------------------------------------------------------------- directions
function addSliders(count) {
  const template = $("direction-template");
  const end = Math.min(shown + count, info.directions.length);
  for (let k = shown; k < end; k++) {
    const d = info.directions[k];
    const row = template.content.firstElementChild.cloneNode(true);
    row.dataset.k = String(k);
    row.querySelector(".index").textContent = `${k}`;
    const [lo, hi] = d.range;
    const slider = row.querySelector(".shift");
    Object.assign(slider, { min: String(lo), max: String(hi), step: String((hi - lo) / 200), value: "0" });
    slider.setAttribute("aria-label", `shift of direction ${k}`);
    const out = row.querySelector(".value");
    const set = (v) => { state.shifts[k] = v; out.textContent = v.toFixed(2); requestRender(); };
    slider.addEventListener("input", () => set(Number(slider.value)));
    slider.addEventListener("dblclick", () => { slider.value = "0"; set(0); });

    const label = row.querySelector(".label");
    label.value = d.label;
    label.maxLength = info.limits.max_label;
    label.addEventListener("change", () => annotate(k, row, { label: label.value }));
    label.addEventListener("keydown", (e) => { if (e.key === "Enter") label.blur(); });

    const rating = row.querySelector(".rating");
    for (let r = 1; r <= 5; r++) {
      const b = document.createElement("button");
      b.textContent = String(r);
      b.title = `interpretability ${r}/5 (click again to clear)`;
      b.dataset.rating = String(r);
      b.addEventListener("click", () => {
        const current = info.directions[k].rating;
        annotate(k, row, { rating: current === r ? null : r });
      });
      rating.appendChild(b);
    }
    row.querySelector(".strip-button").addEventListener("click", () => showStrip(k));
    $("sliders").appendChild(row);
    paintRating(row, d.rating);
  }
  shown = end;
  $("more").hidden = shown >= info.directions.length;
}

function paintRating(row, value) {
  for (const b of row.querySelectorAll(".rating button")) {
    b.setAttribute("aria-pressed", String(Number(b.dataset.rating) === value));
  }
}

async function annotate(k, row, change) {
  const saved = row.querySelector(".saved");
  saved.textContent = "saving";
  saved.classList.remove("error");
  const r = await fetch(`/api/directions/${k}`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(change),
  });
  if (!r.ok) {
    saved.textContent = await errorOf(r);
    saved.classList.add("error");
    return;
  }
  const d = await r.json();
  info.directions[k] = d;
  row.querySelector(".label").value = d.label;
  paintRating(row, d.rating);
  saved.textContent = "saved";
  row.dataset.saved = String(Number(row.dataset.saved || 0) + 1);
}

// ---------------------------------------------------------------- strip view
async function showStrip(k) {
  const n = info.limits.max_strip_seeds >= 4 ? 4 : info.limits.max_strip_seeds;
  const seeds = [];
  for (let i = 0; i < n; i++) seeds.push((state.seed + i) % (info.limits.max_seed + 1));
  const body = { direction: k, seeds, steps: 7 };
  if (state.layers) body.layers = state.layers;
  if (state.cls !== null) body["class"] = state.cls;
  const r = await fetch("/api/strip", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  if (!r.ok) { status(await errorOf(r), true); return; }
  const img = $("strip");
  if (img.src) URL.revokeObjectURL(img.src);
  img.src = URL.createObjectURL(await r.blob());
  await img.decode().catch(() => {});
  img.style.width = `${img.naturalWidth * 2}px`;
  const [lo, hi] = info.directions[k].range;
  const name = info.directions[k].title;
  $("strip-title").textContent =
    `direction ${name}: shifts ${lo.toFixed(1)} … ${hi.toFixed(1)} (columns), seeds ${seeds.join(", ")} (rows)`;
  $("strip-view").hidden = false;
}

// ---------------------------------------------------------------- controls
function setSeed(seed) {
  state.seed = Math.max(0, Math.min(info.limits.max_seed, Math.floor(seed) || 0));
  state.latent = null;
  $("seed").value = String(state.seed);
  requestRender();
}

function readLayers() {
  const count = info.generator.num_layers;
  const start = Number($("layer-start").value), end = Number($("layer-end").value);
  const ok = Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end && end < count;
  $("layers-row").classList.toggle("invalid", !ok);
  if (!ok) { status(`layers must satisfy 0 <= start <= end <= ${count - 1}`, true); return; }
  state.layers = [start, end + 1];
  requestRender();
}

function readClass() {
  const c = Number($("class").value);
  if (!Number.isInteger(c) || c < 0 || c >= info.generator.num_classes) {
    status(`class must be 0..${info.generator.num_classes - 1}`, true);
    return;
  }
  state.cls = c;
  requestRender();
}

async function init() {
  const r = await fetch("/api/info");
  info = await r.json();
  const g = info.generator;
  $("meta").textContent = `${info.file} · ${info.method || "directions"} in ${info.space} · ${g.name} ` +
    `(${g.resolution}×${g.resolution}, latent ${g.latent_dim})`;
  if (info.warning) { $("warning").textContent = info.warning; $("warning").hidden = false; }
  $("seed").max = String(info.limits.max_seed);
  if (g.num_layers > 1) {
    const [a, b] = info.layers;
    $("layer-start").max = $("layer-end").max = String(g.num_layers - 1);
    $("layer-start").value = String(a);
    $("layer-end").value = String(b - 1);
    $("layer-count").textContent = `of 0–${g.num_layers - 1}`;
    $("layers-row").hidden = false;
    state.layers = [a, b];
    for (const id of ["layer-start", "layer-end"]) $(id).addEventListener("change", readLayers);
  }
  if (g.num_classes > 0) {
    $("class").max = String(g.num_classes - 1);
    $("class-count").textContent = `of ${g.num_classes}`;
    $("class-row").hidden = false;
    state.cls = 0;
    $("class").addEventListener("change", readClass);
  }
  $("seed").addEventListener("change", () => setSeed(Number($("seed").value)));
  $("resample").addEventListener("click", () => setSeed(Math.floor(Math.random() * 1e9)));
  $("reset").addEventListener("click", () => {
    state.shifts = {};
    for (const row of document.querySelectorAll(".direction")) {
      row.querySelector(".shift").value = "0";
      row.querySelector(".value").textContent = "0.00";
    }
    requestRender();
  });
  $("more").addEventListener("click", () => addSliders(info.top));
  addSliders(info.top);
  requestRender();
  document.body.dataset.ready = "true";
}

window.explorer = { state, render, requestRender };
init().catch((e) => status(`could not load the explorer: ${e}`, true));
