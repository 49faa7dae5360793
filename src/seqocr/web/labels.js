"use strict";
// The page as a labelling tool. Each read image gets a text box holding the model's reading and a "checked" box.
// What is edited or checked is kept in this browser (IndexedDB: the image, the reading and the label), so it
// survives a reload; "Download checked" sends the checked images and their labels to this service's
// POST /v1/dataset, which answers a zip of images/ and labels.tsv (paths relative to it): the layout
// configs/finetune.yaml trains on. A label with characters the model's charset lacks names them and cannot be
// checked. Nothing is sent anywhere but to the service that served this page.

const Labels = (() => {
  const DB = "seqocr-labels", STORE = "items", MAX_CHARS = 37;  // FSNS labels: at most 37 characters
  let charset = null;  // the characters a label may hold (the service's /healthz), a Set
  const shown = new Map();  // item id -> its card's refresh function

  function database() {
    return new Promise((resolve, reject) => {
      const req = indexedDB.open(DB, 1);
      req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: "id" });
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }

  async function transaction(mode, use) {
    const db = await database();
    return new Promise((resolve, reject) => {
      const t = db.transaction(STORE, mode), req = use(t.objectStore(STORE));
      t.oncomplete = () => { db.close(); resolve(req.result); };
      t.onerror = () => { db.close(); reject(t.error); };
    });
  }

  const save = (item) => transaction("readwrite", (s) => s.put(item));
  const load = (id) => transaction("readonly", (s) => s.get(id));
  const everything = () => transaction("readonly", (s) => s.getAll());
  const forget = (id) => transaction("readwrite", (s) => s.delete(id));

  function problem(text) {
    // why `text` cannot be a label, or "" when it can
    if (!text.trim()) return "empty";
    if ([...text].length > MAX_CHARS) return `${[...text].length} characters, over ${MAX_CHARS}`;
    const lacking = charset ? [...new Set([...text].filter((c) => !charset.has(c)))] : [];
    return lacking.length ? `not in the model's charset: ${lacking.map((c) => `“${c}”`).join(" ")}` : "";
  }

  async function count() {
    const items = await everything();
    const checked = items.filter((i) => i.checked).length;
    document.getElementById("labels").hidden = items.length === 0 && shown.size === 0;
    document.getElementById("label-count").textContent =
      `${checked} checked label${checked === 1 ? "" : "s"} kept in this browser`;
    document.getElementById("download").disabled = checked === 0;
  }

  async function attach(card, fresh) {
    // the card's text box and check box for `fresh` ({id, name, blob, read, confidence, text, checked}); what was
    // kept for the same file before (same name, size and date) wins
    const item = (await load(fresh.id)) || fresh;
    const box = card.querySelector(".label"), input = box.querySelector(".truth");
    const check = box.querySelector(".checked"), why = box.querySelector(".why");
    box.hidden = false;
    input.value = item.text;
    const refresh = () => {
      const reason = problem(input.value);
      why.textContent = reason;
      check.disabled = reason !== "";
      if (reason) item.checked = false;
      check.checked = item.checked;
      card.classList.toggle("edited", item.text !== item.read);
    };
    input.addEventListener("keydown", (e) => e.stopPropagation());  // ← → move the cursor, not the character
    input.addEventListener("input", async () => {
      item.text = input.value;
      refresh();
      await save(item);
      count();
    });
    check.addEventListener("change", async () => {
      item.checked = check.checked && !problem(input.value);
      refresh();
      await save(item);
      count();
    });
    shown.set(item.id, refresh);
    refresh();
    count();
  }

  function idOf(file) {
    return `${file.name}|${file.size}|${file.lastModified}`;
  }

  async function restore(makeCard) {
    // kept items not on the page yet, as cards: `makeCard(item)` draws one and returns it
    for (const item of await everything()) {
      if (!shown.has(item.id)) await attach(await makeCard(item), item);
    }
    count();
  }

  async function download() {
    const error = document.getElementById("label-error");
    error.textContent = "";
    const items = (await everything()).filter((i) => i.checked && !problem(i.text));
    const form = new FormData();
    for (const i of items) {
      form.append("images", i.blob, i.name);
      form.append("texts", i.text);
    }
    let response;
    try {
      response = await fetch("/v1/dataset", { method: "POST", body: form });
    } catch (e) {
      error.textContent = `the service did not answer (${e.message})`;
      return;
    }
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      error.textContent = `${response.status}: ${body.error || response.statusText}`;
      return;
    }
    const url = URL.createObjectURL(await response.blob()), a = document.createElement("a");
    a.href = url;
    a.download = "seqocr-labels.zip";
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  }

  async function forgetChecked() {
    for (const item of (await everything()).filter((i) => i.checked)) await forget(item.id);
    for (const card of document.querySelectorAll(".card.restored")) {
      if (!(await load(card.dataset.id))) card.remove();
    }
    count();
  }

  function setUp(chars) {
    charset = chars ? new Set([...chars]) : null;
    shown.forEach((refresh) => refresh());
    document.getElementById("download").addEventListener("click", download);
    document.getElementById("forget").addEventListener("click", forgetChecked);
  }

  return { attach, restore, setUp, idOf };
})();
