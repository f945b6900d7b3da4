// The explorer page: one panel per run, side by side. Every picture is a PNG the server draws; this script only
// builds the controls and swaps each image's address when a control changes.
"use strict";

const message = document.getElementById("message");

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const c of children) node.append(c);
  return node;
}

// Show what the server said when a picture is refused (its JSON {"error": ...}).
async function explain(img) {
  try {
    const r = await fetch(img.src);
    if (!r.ok) message.textContent = (await r.json()).error;
  } catch (e) { message.textContent = String(e); }
}

// null leaves a parameter out; an empty caption is sent, so that the server says it is empty
function query(params) {
  return Object.entries(params).filter(([, v]) => v !== null && v !== undefined).map(
    ([k, v]) => `${k}=${encodeURIComponent(v)}`).join("&");
}

function generatorPanel(run, box) {
  const base = `/api/runs/${run.index}`;
  const n = run.kind === "image" ? 16 : 1000;
  const cols = 8;
  const state = { seed: 0, label: null, caption: run.caption, coords: run.directions.map(() => 0) };
  const params = () => ({ n, cols, seed: state.seed, label: state.label, caption: state.caption,
                          coords: state.coords.map((v) => v.toFixed(2)).join(",") });
  const samples = el("img", { id: `samples-${run.index}`, class: "samples", alt: "samples" });
  samples.addEventListener("error", () => explain(samples));
  const refresh = () => { samples.src = `${base}/samples.png?${query(params())}`; };
  let draw = () => {};  // the interpolation's, once it is built: a new caption redraws it too

  const seed = el("input", { type: "number", id: `seed-${run.index}`, min: 0, value: 0 });
  seed.addEventListener("change", () => { state.seed = Number(seed.value) || 0; refresh(); });
  const again = el("button", { id: `newseed-${run.index}` }, "new z");
  again.addEventListener("click", () => { seed.value = state.seed = Math.floor(Math.random() * 1e6); refresh(); });
  box.append(el("div", { class: "row" }, "seed ", seed, again));

  if (run.num_classes) {
    const select = el("select", { id: `class-${run.index}` }, el("option", { value: "" }, "every class in turn"));
    for (let k = 0; k < run.num_classes; k++) select.append(el("option", { value: k }, `class ${k}`));
    select.addEventListener("change", () => { state.label = select.value === "" ? null : select.value; refresh(); });
    box.append(el("div", { class: "row" }, "class ", select));
  }
  if (run.caption !== null) {  // text-to-image: every sample is of this caption (Enter or "generate" applies it)
    const text = el("input", { type: "text", id: `caption-${run.index}`, maxlength: run.max_caption, size: 40,
                               value: run.caption });
    const apply = el("button", { id: `generate-${run.index}` }, "generate");
    const go = () => { message.textContent = ""; state.caption = text.value; refresh(); draw(); };
    apply.addEventListener("click", go);
    text.addEventListener("keydown", (event) => { if (event.key === "Enter") go(); });
    box.append(el("div", { class: "row" }, "caption ", text, apply));
  }
  run.directions.forEach((name, k) => {
    const slider = el("input", { type: "range", id: `dir-${run.index}-${k}`, min: -3, max: 3, step: 0.1, value: 0 });
    const shown = el("span", {}, "0.0");
    slider.addEventListener("input", () => {
      state.coords[k] = Number(slider.value); shown.textContent = state.coords[k].toFixed(1); refresh();
    });
    box.append(el("div", { class: "slider" }, name, slider, shown));
  });
  box.append(samples);

  if (run.kind === "image") {  // click a sample: its nearest training images (memorisation check)
    const near = el("img", { id: `nearest-${run.index}`, alt: "nearest training images" });
    near.hidden = true;  // until a sample is clicked
    const caption = el("div", { class: "meta" }, "click a sample to see its nearest training images");
    near.addEventListener("error", () => explain(near));
    near.addEventListener("load", () => {
      near.hidden = false;
      caption.textContent = "the sample, then its nearest training images (pixel distance " +
        near.dataset.distances + ")";
    });
    samples.addEventListener("click", async (event) => {
      const r = samples.getBoundingClientRect();
      const rows = Math.ceil(n / cols);
      const col = Math.min(cols - 1, Math.floor((event.clientX - r.left) / r.width * cols));
      const row = Math.min(rows - 1, Math.floor((event.clientY - r.top) / r.height * rows));
      const url = `${base}/nearest.png?${query({ ...params(), index: Math.min(n - 1, row * cols + col), k: 5 })}`;
      const answer = await fetch(url);
      if (!answer.ok) { message.textContent = (await answer.json()).error; return; }
      near.dataset.distances = answer.headers.get("X-Distances");
      near.src = URL.createObjectURL(await answer.blob());
    });
    box.append(el("h3", {}, "nearest training images"), caption, near);
  }

  const a = el("input", { type: "number", id: `interp-a-${run.index}`, min: 0, value: 1 });
  const b = el("input", { type: "number", id: `interp-b-${run.index}`, min: 0, value: 2 });
  const line = el("img", { id: `interp-${run.index}`, alt: "interpolation" });
  line.addEventListener("error", () => explain(line));
  draw = () => {
    line.src = `${base}/interpolate.png?${query({ a: a.value, b: b.value, steps: 8, label: state.label,
                                                  caption: state.caption })}`;
  };
  a.addEventListener("change", draw);
  b.addEventListener("change", draw);
  box.append(el("h3", {}, "interpolation"), el("div", { class: "row" }, "from seed ", a, " to seed ", b), line);
  if (run.caption !== null) captionWalk(run, box, state);
  refresh();
  draw();
}

// A text run's walk from one caption to another: two rows of z, the caption's embedding stepping between the two.
function captionWalk(run, box, state) {
  const from = el("input", { type: "text", id: `walk-from-${run.index}`, maxlength: run.max_caption, size: 24,
                             value: run.caption });
  const to = el("input", { type: "text", id: `walk-to-${run.index}`, maxlength: run.max_caption, size: 24,
                           value: "" });
  const go = el("button", { id: `walk-${run.index}` }, "walk");
  const walk = el("img", { id: `walk-img-${run.index}`, alt: "walk between captions" });
  walk.hidden = true;  // until a walk is asked for
  walk.addEventListener("error", () => explain(walk));
  walk.addEventListener("load", () => { walk.hidden = false; });
  const draw = () => {
    message.textContent = "";
    walk.src = `/api/runs/${run.index}/captions.png?${query({ from: from.value, to: to.value, steps: 8, rows: 2,
                                                                 seed: state.seed })}`;
  };
  go.addEventListener("click", draw);
  for (const field of [from, to]) field.addEventListener("keydown", (e) => { if (e.key === "Enter") draw(); });
  box.append(el("h3", {}, "from caption to caption"),
             el("div", { class: "row" }, "from ", from, " to ", to, go), walk);
}

function translationPanel(run, box) {
  const index = el("input", { type: "number", id: `test-${run.index}`, min: 0, max: 999, value: 0 });
  const out = el("img", { id: `translate-${run.index}`, alt: "translations" });
  const caption = el("div", { class: "meta" });
  out.addEventListener("error", () => explain(out));
  const draw = async () => {
    const answer = await fetch(`/api/runs/${run.index}/translate.png?index=${Number(index.value) || 0}`);
    if (!answer.ok) { message.textContent = (await answer.json()).error; return; }
    caption.textContent = answer.headers.get("X-Captions");
    out.src = URL.createObjectURL(await answer.blob());
  };
  index.addEventListener("change", draw);
  const upload = el("input", { type: "file", id: `upload-${run.index}`, accept: "image/*" });
  upload.addEventListener("change", async () => {  // an image of one's own, through every direction
    if (!upload.files.length) return;
    const form = new FormData();
    form.append("image", upload.files[0]);
    const answer = await fetch(`/api/runs/${run.index}/translate.png`, { method: "POST", body: form });
    if (!answer.ok) { message.textContent = (await answer.json()).error; return; }
    caption.textContent = answer.headers.get("X-Captions");
    out.src = URL.createObjectURL(await answer.blob());
  });
  box.append(el("div", { class: "row" }, "test image ", index, " or your own ", upload), out, caption);
  draw();
}

async function main() {
  const answer = await fetch("/api/runs");
  const listing = await answer.json();
  document.getElementById("live-link").hidden = !listing.live;
  const runs = document.getElementById("runs");
  for (const run of listing.runs) {
    const box = el("section", { class: "run", id: `run-${run.index}` });
    box.append(el("h2", {}, run.name), el("div", { class: "meta" },
      `${run.family} on ${run.dataset}, step ${run.step}` + (run.generators > 1 ? `, ${run.generators} generators` : "")));
    if (run.translation.length) translationPanel(run, box); else generatorPanel(run, box);
    runs.append(box);
  }
  if (!listing.runs.length) message.textContent = "no runs given: ganforge serve RUN [RUN…]";
}

main().catch((e) => { message.textContent = String(e); });
