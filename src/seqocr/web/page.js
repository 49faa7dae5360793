"use strict";
// seqocr's page. Each chosen image goes alone to POST /v1/read?attention=1, so that a bad file shows its own
// error (the service's message) while the others are read; the service batches concurrent requests anyway.
// A result's attention is {shape: [V, R, W], levels: 255, encoding: "base64 uint8", maps: one base64 string of
// V*R*W bytes per character}: where the model looked for that character over V views, R rows and W columns of its
// memory, scaled to the map's peak. Correcting readings into a training set: labels.js.

const RAMP = [[0, [20, 20, 160]], [0.4, [200, 30, 130]], [0.75, [255, 150, 20]], [1, [255, 250, 150]]];
const VIEW_PX = 150;  // each view is drawn at this size
const GAP = 3;
let service = { attention: true };

function heat(w) {  // weight 0..1 -> [r, g, b] along the ramp (the same as `read --show`)
  for (let i = 1; i < RAMP.length; i++) {
    const [x1, c1] = RAMP[i];
    const [x0, c0] = RAMP[i - 1];
    if (w <= x1) {
      const t = (w - x0) / (x1 - x0);
      return c0.map((c, j) => Math.round(c + t * (c1[j] - c)));
    }
  }
  return RAMP[RAMP.length - 1][1];
}

function probColour(p) {  // red (unsure) through amber to green (sure)
  return p >= 0.5 ? `rgb(${Math.round(200 - 150 * p)}, ${Math.round(60 + 110 * p)}, 60)`
                  : `rgb(200, ${Math.round(60 + 180 * p)}, 60)`;
}

function viewRects(img, n, views) {
  // the views the model read, as source rectangles of the uploaded image: tile views.sources[v] of the
  // views.tiles the service cut it into (serve.prepare; an FSNS strip's noise filler tiles are replaced by its
  // real views, so a 2-view sign reads tiles 0, 1, 0, 1); without them, a strip's tiles in turn or a photo n times
  const w = img.naturalWidth, h = img.naturalHeight;
  const tiles = views ? views.tiles : (n > 1 && Math.abs(w / h - n) < 0.5 ? n : 1);
  const sources = views ? views.sources : Array.from({ length: n }, (_, v) => (tiles > 1 ? v : 0));
  const tw = w / tiles;
  return sources.map((t, v) => {  // a model that reads each view's text region (model.crop: text) says which
    const [x0, y0, x1, y1] = views && views.crops ? views.crops[v] : [0, 0, 1, 1];
    return [Math.round(t * tw + x0 * tw), Math.round(y0 * h), Math.round((x1 - x0) * tw), Math.round((y1 - y0) * h)];
  });
}

function loadImage(file) {
  return new Promise((resolve) => {
    const img = new Image(), url = URL.createObjectURL(file);
    // the decoded image outlives its URL: released once loaded (or not), so a long session holds no file copies
    img.onload = () => { URL.revokeObjectURL(url); resolve(img); };
    img.onerror = () => { URL.revokeObjectURL(url); resolve(null); };  // the service will say what is wrong
    img.src = url;
  });
}

function newCard(name) {
  const card = document.getElementById("card").content.firstElementChild.cloneNode(true);
  card.querySelector(".name").textContent = name;
  card.dataset.name = name;
  card.dataset.state = "reading";
  document.getElementById("results").prepend(card);
  return card;
}

function fail(card, message) {
  const p = card.querySelector(".error");
  p.textContent = message;
  p.hidden = false;
  card.querySelector(".views").hidden = true;
  card.dataset.state = "error";
}

function drawViews(card, img, n, views) {
  const base = card.querySelector(".base"), overlay = card.querySelector(".overlay");
  for (const c of [base, overlay]) {
    c.width = n * VIEW_PX + (n - 1) * GAP;
    c.height = VIEW_PX;
  }
  if (!img) return;
  const ctx = base.getContext("2d");
  viewRects(img, n, views).forEach(([sx, sy, sw, sh], v) =>
    ctx.drawImage(img, sx, sy, sw, sh, v * (VIEW_PX + GAP), 0, VIEW_PX, VIEW_PX));
}

const FIELD = 75;  // the heat field is computed at this size per view, then stretched to VIEW_PX

function spread(map, v, rows, cols) {
  // view v's cells (rows x cols) sampled bilinearly onto FIELD x FIELD pixels, then blurred over about a cell
  // (a weight sits on one memory cell, 4 x 16 pixels of a view for the shipped model): a spot, not a dot
  const out = new Float32Array(FIELD * FIELD), cell = (r, c) => map[v * rows * cols + r * cols + c];
  for (let y = 0; y < FIELD; y++) {
    const fy = Math.min(Math.max((y + 0.5) * rows / FIELD - 0.5, 0), rows - 1), y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, rows - 1), ty = fy - y0;
    for (let x = 0; x < FIELD; x++) {
      const fx = Math.min(Math.max((x + 0.5) * cols / FIELD - 0.5, 0), cols - 1), x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, cols - 1), tx = fx - x0;
      out[y * FIELD + x] = (1 - ty) * ((1 - tx) * cell(y0, x0) + tx * cell(y0, x1)) +
                           ty * ((1 - tx) * cell(y1, x0) + tx * cell(y1, x1));
    }
  }
  return blur(out, 0.6 * Math.max(FIELD / cols, FIELD / rows));
}

function blur(field, sigma) {  // separable Gaussian, edges clamped
  const radius = Math.ceil(2.5 * sigma), kernel = [];
  for (let i = -radius; i <= radius; i++) kernel.push(Math.exp(-i * i / (2 * sigma * sigma)));
  const total = kernel.reduce((a, b) => a + b, 0);
  const pass = (src, dx, dy) => {
    const dst = new Float32Array(src.length);
    for (let y = 0; y < FIELD; y++) {
      for (let x = 0; x < FIELD; x++) {
        let acc = 0;
        for (let i = -radius; i <= radius; i++) {
          const xx = Math.min(Math.max(x + i * dx, 0), FIELD - 1), yy = Math.min(Math.max(y + i * dy, 0), FIELD - 1);
          acc += kernel[i + radius] * src[yy * FIELD + xx];
        }
        dst[y * FIELD + x] = acc / total;
      }
    }
    return dst;
  };
  return pass(pass(field, 1, 0), 0, 1);
}

function drawAttention(card, attention, k) {
  // character k's map over every view, on one scale for all views (a view the model hardly used stays dark)
  const [n, rows, cols] = attention.shape;
  const map = Uint8Array.from(atob(attention.maps[k]), (c) => c.charCodeAt(0));
  const overlay = card.querySelector(".overlay"), ctx = overlay.getContext("2d");
  ctx.clearRect(0, 0, overlay.width, overlay.height);
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = "high";
  const fields = Array.from({ length: n }, (_, v) => spread(map, v, rows, cols));
  const peak = Math.max(1e-6, ...fields.map((f) => f.reduce((a, b) => Math.max(a, b), 0)));
  const cells = document.createElement("canvas");
  cells.width = cells.height = FIELD;
  const small = cells.getContext("2d");
  const perView = [];
  fields.forEach((field, v) => {
    const data = small.createImageData(FIELD, FIELD);
    field.forEach((value, i) => {
      const w = value / peak;
      data.data.set([...heat(w), Math.round(Math.sqrt(w) * 230)], 4 * i);
    });
    small.putImageData(data, 0, 0);
    ctx.drawImage(cells, v * (VIEW_PX + GAP), 0, VIEW_PX, VIEW_PX);
    perView.push(map.slice(v * rows * cols, (v + 1) * rows * cols).reduce((a, b) => a + b, 0));
  });
  overlay.dataset.char = String(k);
  const sum = perView.reduce((a, b) => a + b, 0) || 1;
  return perView.map((t) => t / sum);
}

function focusChar(card, result, k) {
  const chars = card.querySelectorAll(".char");
  if (!chars.length) return;
  k = Math.max(0, Math.min(chars.length - 1, k));
  chars.forEach((c, i) => c.classList.toggle("on", i === k));
  card.dataset.focus = String(k);
  const ch = result.text[k] === " " ? "space" : `“${result.text[k]}”`;
  let line = `${ch}, character ${k + 1} of ${result.text.length}: probability ${result.char_probs[k].toFixed(3)}`;
  if (result.attention) {
    const share = drawAttention(card, result.attention, k);
    // summed over the views read from the same tile of the image, named as the image's tile
    const views = result.attention.views || { tiles: share.length, sources: share.map((_, v) => v) };
    const byTile = Array(views.tiles).fill(0);
    views.sources.forEach((t, v) => { byTile[t] += share[v]; });
    const best = byTile.indexOf(Math.max(...byTile));
    const where = views.tiles > 1 ? `view ${best + 1} of ${views.tiles} of the image` : "the image";
    line += `; most of its attention on ${where} (${Math.round(100 * byTile[best])} %)`;
    card.querySelector(".views").classList.add("focused");
  }
  card.querySelector(".focus").textContent = line;
}

function showReading(card, img, result) {
  const n = result.attention ? result.attention.shape[0] : 4;
  drawViews(card, img, n, result.attention && result.attention.views);
  card.querySelector(".reading").hidden = false;
  card.querySelector(".text").textContent = result.rejected ? "(rejected)" : result.text || "(no text)";
  card.querySelector(".confidence").textContent = `confidence ${result.confidence.toFixed(3)}` +
    (result.rejected ? ", below the service's --min-confidence" : "");
  const chars = card.querySelector(".chars");
  [...result.text].forEach((c, k) => {
    const p = result.char_probs[k];
    const el = document.createElement("div");
    el.className = "char";
    el.setAttribute("role", "option");
    el.style.borderColor = probColour(p);
    el.title = `probability ${p.toFixed(4)}`;
    el.innerHTML = "<b></b><small></small>";
    el.querySelector("b").textContent = c === " " ? "␣" : c;
    el.querySelector("small").textContent = p.toFixed(2);
    el.addEventListener("mouseenter", () => focusChar(card, result, k));
    el.addEventListener("click", () => focusChar(card, result, k));
    chars.append(el);
  });
  card.tabIndex = 0;
  card.addEventListener("keydown", (e) => {
    const k = Number(card.dataset.focus || 0);
    if (e.key === "ArrowRight") focusChar(card, result, k + 1);
    if (e.key === "ArrowLeft") focusChar(card, result, k - 1);
  });
  if (!result.attention && result.text) {
    card.querySelector(".focus").textContent = service.attention_refusal || "no attention maps";
  } else {
    focusChar(card, result, 0);
  }
  card.dataset.state = "done";
}

async function readOne(file) {
  const card = newCard(file.name);
  const img = await loadImage(file);
  const form = new FormData();
  form.append("images", file, file.name);
  let response, body;
  try {
    response = await fetch(service.attention ? "/v1/read?attention=1" : "/v1/read", { method: "POST", body: form });
    body = await response.json().catch(() => ({}));
  } catch (e) {
    return fail(card, `the service did not answer (${e.message})`);
  }
  // each file goes alone, so the service's "image 0" is this file: the page names it as the user knows it
  const error = (body.error || response.statusText).replace(/^image 0\b/, file.name);
  if (!response.ok) return fail(card, `${response.status}: ${error}`);
  const result = body.results[0];
  showReading(card, img, result);
  await Labels.attach(card, { id: Labels.idOf(file), name: file.name, blob: file, read: result.text,
                              confidence: result.confidence, text: result.text, checked: false });
}

async function restoredCard(item) {
  // an image labelled in an earlier visit, kept in this browser (labels.js): drawn with the reading it had
  const card = newCard(item.name);
  card.classList.add("restored");
  card.dataset.id = item.id;
  drawViews(card, await loadImage(item.blob), 4, null);
  card.querySelector(".reading").hidden = false;
  card.querySelector(".text").textContent = item.read || "(no text)";
  card.querySelector(".confidence").textContent = `confidence ${item.confidence.toFixed(3)}, read earlier`;
  card.dataset.state = "restored";
  return card;
}

function readAll(files) {
  return Promise.all([...files].map(readOne));
}

async function health() {
  const line = document.getElementById("model");
  try {
    service = await (await fetch("/healthz")).json();
    line.textContent = `model: ${service.model} (${service.runtime})` +
      (service.attention ? "" : `; ${service.attention_refusal}`);
  } catch (e) {
    line.textContent = `the service does not answer (${e.message})`;
  }
  Labels.setUp(service.charset);
  await Labels.restore(restoredCard);
}

function setUp() {
  const input = document.getElementById("files"), drop = document.getElementById("drop");
  input.addEventListener("change", () => { readAll(input.files); input.value = ""; });
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    readAll(e.dataTransfer.files);
  });
  health();
}

setUp();
