// The live 2-D view: polls the trainer's state and swaps the frame (drawn on the server) when a new one is out;
// the buttons and switches post commands, which the trainer's thread takes from its queue.
"use strict";

const frame = document.getElementById("frame");
const status = document.getElementById("status");
const message = document.getElementById("message");
const form = document.getElementById("options");
let shown = -1;
let built = false;

async function command(body) {
  const answer = await fetch("/api/live/command", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  message.textContent = answer.ok ? "" : (await answer.json()).error;
}

// A switch's value as typed: numbers stay numbers, the rest are words (the server checks them against the config).
function value(text) {
  return text.trim() !== "" && !Number.isNaN(Number(text)) ? Number(text) : text.trim();
}

function buildSwitches(state) {
  for (const [key, meaning] of Object.entries(state.switches)) {
    const input = document.createElement("input");
    input.name = key;
    input.id = `switch-${key.replaceAll(".", "-")}`;
    input.value = state.config[key] === null ? "" : String(state.config[key]);
    const label = document.createElement("label");
    label.title = key;
    label.append(meaning, input);
    form.append(label);
  }
  built = true;
}

async function poll() {
  try {
    const state = await (await fetch("/api/live/state")).json();
    if (!built) buildSwitches(state);
    document.getElementById("what").textContent = `${state.family} on ${state.data}`;
    status.textContent = `step ${state.step} of ${state.steps} — ` +
      (state.running ? "training" : state.finished ? "finished" : "paused");
    status.dataset.step = state.step;
    status.dataset.running = state.running;
    if (state.error) message.textContent = state.error;
    if (state.version !== shown && frame.complete) {  // a new frame, and the last one has arrived
      shown = state.version;
      frame.src = `/api/live/frame.png?v=${state.version}`;
    }
  } catch (e) { message.textContent = String(e); }
  setTimeout(poll, 300);
}

document.getElementById("start").addEventListener("click", () => command({ action: "start" }));
document.getElementById("pause").addEventListener("click", () => command({ action: "pause" }));
document.getElementById("step").addEventListener("click", () => command({ action: "step", n: 10 }));
document.getElementById("restart").addEventListener("click", (event) => {
  event.preventDefault();
  const options = {};
  for (const input of form.querySelectorAll("input")) {
    if (input.value.trim() !== "") options[input.name] = value(input.value);
  }
  command({ action: "restart", options });
});
poll();
