// The facilitator console: runs rounds, reveals them, records agreements and
// exports the workshop. Control needs the facilitator token, which arrives in the
// URL fragment (#token=...) so it never travels in an HTTP request.

import { Connection } from "./connection.js";
import { currentItemEntry, currentItemId, renderAspectList } from "./console-aspects.js";
import { setUpPriorityForm } from "./console-priorities.js";
import {
  forgetToken,
  pageHasTokenFragment,
  parseToken,
  readPageToken,
  storeToken,
} from "./facilitator-token.js";
import { announce, element, errorDetail, replaceChildrenKeepingFocus } from "./dom.js";
import { renderDescription, renderDescriptors, renderPrincipleHeading } from "./principle.js";
import {
  groupName,
  latestRound,
  renderAgreement,
  renderResult,
  renderVotedCounts,
} from "./results.js";

const workshopId = decodeURIComponent(location.pathname.split("/")[2] ?? "");

const byId = (id) => document.getElementById(id);
const errorRegion = byId("console-error");
const consoleBody = byId("console-body");
const buttons = {
  open: byId("open-button"),
  reveal: byId("reveal-button"),
  revote: byId("revote-button"),
  next: byId("next-button"),
  recordJump: byId("record-jump-button"),
  record: byId("record-button"),
};
const recordForm = byId("record-form");
const levelSelect = byId("record-level");
const notesInput = byId("record-notes");

const linkCutShort = pageHasTokenFragment() && !parseToken(location.hash);
let token = readPageToken(workshopId);
let view = null;
/** The item whose agreement the record form shows, and whether it was edited since. */
let recordFormItem = null;
let recordFormEdited = false;
const renderPriority = setUpPriorityForm(runCommand);

// Storage and token -------------------------------------------------------------------

function storageGet(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

function storageSet(key, value) {
  try {
    localStorage.setItem(key, value);
  } catch (error) {
    console.warn(`Storing ${key} failed, so a reload will not remember it:`, error);
  }
}

function facilitatorLink() {
  return `${location.origin}/console/${encodeURIComponent(workshopId)}#token=${token}`;
}

// Errors -------------------------------------------------------------------------------

function showError(message) {
  errorRegion.replaceChildren(...(message ? [element("p", { text: message })] : []));
}

/** Sends a command; shows the server's error, if any, and returns whether it was stored. */
async function runCommand(message) {
  showError("");
  try {
    await connection.send(message);
    return true;
  } catch (error) {
    showError(error.message);
    return false;
  }
}

// Rendering ----------------------------------------------------------------------------

function render(consoleView) {
  const room = consoleView.room;
  view = room;
  document.title = `${room.title} · Facilitator console · Common Ground`;
  byId("workshop-title").textContent = room.title;
  byId("workshop-unit").textContent = `${capitalise(room.scope)}: ${room.unit}`;
  byId("join-code").textContent = room.join_code;

  renderAgenda(room);
  renderCurrent(room);
  renderControls(room);
  renderRound(room);
  renderRecordForm(room);
  renderPriority(room);
  renderPresence(consoleView);
  revealWhenAllVoted(consoleView);
}

function capitalise(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function renderAgenda(room) {
  const items = room.agenda.map((entry) => {
    const isCurrent = room.current !== null && room.current.id === entry.principle_id;
    const status = [];
    if (!entry.has_levels) {
      status.push("Discussion item");
    }
    if (entry.recorded) {
      status.push(
        entry.agreed_level !== null
          ? `✓ Agreed: ${room.levels[entry.agreed_level - 1]}`
          : entry.has_levels
            ? "✓ Recorded, no level"
            : "✓ Notes recorded",
      );
    } else {
      status.push("Not recorded");
    }
    if (entry.has_levels) {
      status.push(entry.rounds === 1 ? "1 round" : `${entry.rounds} rounds`);
    }
    return element("li", { className: isCurrent ? "agenda-item is-current" : "agenda-item" }, [
      element(
        "button",
        {
          type: "button",
          className: "agenda-button",
          "aria-current": isCurrent ? "true" : null,
          dataset: { item: entry.principle_id, focusKey: `agenda-${entry.principle_id}` },
        },
        [
          element("span", { className: "agenda-title", text: `${entry.number}. ${entry.title}` }),
          element("span", { className: "agenda-status", text: status.join(" · ") }),
        ],
      ),
      renderAspectList(room, entry),
    ]);
  });
  replaceChildrenKeepingFocus(byId("agenda"), items);
}

function renderCurrent(room) {
  const container = byId("current-principle");
  if (!room.current) {
    container.replaceChildren(
      element("p", {
        className: "empty",
        text: "No item is on screen yet. Choose one from the agenda, or press Next item to start with the first.",
      }),
    );
    return;
  }
  const children = [renderPrincipleHeading(room.current, 3)];
  if (room.current.has_levels) {
    const wasOpen = container.querySelector("details")?.open ?? false;
    children.push(
      element("details", { className: "console-descriptors", open: wasOpen }, [
        element("summary", { text: "Level descriptors", dataset: { focusKey: "descriptors" } }),
        renderDescriptors(room.current, room.levels, 4),
      ]),
    );
  } else {
    children.push(renderDescription(room.current));
  }
  replaceChildrenKeepingFocus(container, children);
}

function nextAgendaItem(room) {
  if (room.agenda.length === 0) {
    return null;
  }
  if (!room.current) {
    return room.agenda[0];
  }
  const index = room.agenda.findIndex((entry) => entry.principle_id === room.current.id);
  return index >= 0 && index + 1 < room.agenda.length ? room.agenda[index + 1] : null;
}

function renderControls(room) {
  const round = latestRound(room);
  const levelled = room.current !== null && room.current.has_levels;
  const voting = round !== null && round.status === "voting";
  buttons.open.disabled = !levelled || round !== null;
  buttons.reveal.disabled = !voting;
  buttons.revote.disabled = !levelled || round === null || voting;
  buttons.next.disabled = voting || nextAgendaItem(room) === null;
  buttons.recordJump.disabled = room.current === null;
  buttons.next.querySelector(".button-label").textContent = room.current ? "Next item" : "Show first item";
}

function renderRound(room) {
  const state = byId("round-state");
  const results = byId("results");
  const earlier = byId("earlier-rounds");
  const round = latestRound(room);
  updateRoundTimer();

  if (!room.current || !room.current.has_levels) {
    state.replaceChildren(
      element("p", {
        text: room.current ? "This is a discussion item: there is no vote, so record notes below." : "",
      }),
    );
    results.replaceChildren();
    earlier.replaceChildren();
    return;
  }
  if (round === null) {
    state.replaceChildren(element("p", { text: "No round yet. Open a round when the room is ready to vote." }));
    results.replaceChildren();
  } else if (round.status === "voting") {
    state.replaceChildren(
      element("p", { className: "round-label", text: `Round ${round.number} is open for votes.` }),
      renderVotedCounts(round, room),
    );
    results.replaceChildren();
  } else {
    state.replaceChildren(
      element("p", { className: "round-label", text: `Round ${round.number} is revealed.` }),
    );
    results.replaceChildren(renderResult(round.result, room));
  }

  const previous = room.rounds.slice(0, -1).filter((entry) => entry.result !== null);
  if (previous.length === 0) {
    earlier.replaceChildren();
    return;
  }
  const wasOpen = earlier.querySelector("details")?.open ?? false;
  replaceChildrenKeepingFocus(earlier, [
    element("details", { className: "earlier-rounds", open: wasOpen }, [
      element("summary", {
        text: `Earlier rounds on this item (${previous.length})`,
        dataset: { focusKey: "earlier-rounds" },
      }),
      ...previous.map((entry) =>
        element("section", { className: "earlier-round" }, [
          element("h3", { text: `Round ${entry.number}` }),
          renderResult(entry.result, room, { compact: true }),
        ]),
      ),
    ]),
  ]);
}

function renderRecordForm(room) {
  const current = room.current;
  const entry = currentItemEntry(room);
  const round = latestRound(room);
  const voting = round !== null && round.status === "voting";

  byId("recorded-now").replaceChildren(
    ...(entry && entry.recorded ? [renderAgreement(entry, room)] : []),
  );

  // The options are built once: rebuilding them on every view would close the
  // list while the facilitator has it open.
  if (levelSelect.options.length !== room.levels.length + 1) {
    levelSelect.replaceChildren(
      element("option", { value: "", text: "No level" }),
      ...room.levels.map((name, index) => element("option", { value: String(index + 1), text: name })),
    );
  }

  const help = byId("record-level-help");
  if (!current) {
    help.textContent = "Show an item first.";
  } else if (!current.has_levels) {
    help.textContent = "A discussion item has no levels: record notes only.";
  } else if (voting) {
    help.textContent = `Reveal round ${round.number} before recording.`;
  } else {
    help.textContent = "Choose No level when the room did not agree on one.";
  }
  levelSelect.disabled = !current || !current.has_levels;
  notesInput.disabled = !current;
  buttons.record.disabled = !current || voting;

  // Refill from the record when the item changes, or when the form has no unsaved
  // edits, because another facilitator may have saved. Unsaved edits are kept.
  const itemId = currentItemId(room);
  if (itemId !== recordFormItem || !recordFormEdited) {
    const recordedLevel = entry && entry.agreed_level !== null ? String(entry.agreed_level) : "";
    const recordedNotes = entry ? entry.notes : "";
    // Assigning an unchanged value would still move the caret, so only changes are written.
    if (levelSelect.value !== recordedLevel) {
      levelSelect.value = recordedLevel;
    }
    if (notesInput.value !== recordedNotes) {
      notesInput.value = recordedNotes;
    }
    if (itemId !== recordFormItem) {
      byId("record-status").textContent = "";
    }
    recordFormItem = itemId;
    recordFormEdited = false;
  }
}

function renderPresence(consoleView) {
  const room = consoleView.room;
  const connected = new Map(consoleView.connected.participants.map((entry) => [entry.role, entry.count]));
  const rows = consoleView.joined.map((entry) =>
    element("tr", {}, [
      element("th", { scope: "row", text: capitalise(groupName(room, entry.role)) }),
      element("td", { text: entry.count }),
      element("td", { text: connected.get(entry.role) ?? 0 }),
    ]),
  );
  const table = element("table", { className: "presence-table" }, [
    element("thead", {}, [
      element("tr", {}, [
        element("th", { scope: "col", text: "Role" }),
        element("th", { scope: "col", text: "Joined" }),
        element("th", { scope: "col", text: "Connected now" }),
      ]),
    ]),
    element("tbody", {}, rows),
  ]);
  const projectors = consoleView.connected.projectors;
  const facilitators = consoleView.connected.facilitators;
  byId("presence").replaceChildren(
    table,
    element("p", {
      text:
        `${projectors} projector ${projectors === 1 ? "page" : "pages"} and ` +
        `${facilitators} facilitator ${facilitators === 1 ? "console" : "consoles"} connected.`,
    }),
  );

  // The same counts in one line beside the round, which stays in view on a laptop
  // screen where "Who is here" is below the fold.
  const connectedWords = consoleView.joined.map((entry) => {
    const count = connected.get(entry.role) ?? 0;
    return `${count} ${groupName(room, entry.role, count)}`;
  });
  const joinedTotal = consoleView.joined.reduce((sum, entry) => sum + entry.count, 0);
  byId("presence-summary").textContent =
    `Connected now: ${connectedWords.join(", ")} (${joinedTotal} joined).`;
}

// Round timer and auto-reveal ----------------------------------------------------------

/** Returns a number of seconds as m:ss, or h:mm:ss from an hour on. */
function formatDuration(totalSeconds) {
  const seconds = Math.floor(totalSeconds % 60);
  const minutes = Math.floor(totalSeconds / 60) % 60;
  const hours = Math.floor(totalSeconds / 3600);
  const paddedSeconds = String(seconds).padStart(2, "0");
  if (hours > 0) {
    return `${hours}:${String(minutes).padStart(2, "0")}:${paddedSeconds}`;
  }
  return `${minutes}:${paddedSeconds}`;
}

/**
 * Shows how long the open round has been open, from its `opened_at`, or hides the
 * timer when no round is open. It is not a live region, so screen readers do not
 * announce every second.
 */
// NOTE: `opened_at` is the server's clock and `Date.now()` this device's, so a device
// clock that is off shifts the timer by as much. A negative difference shows as 0:00.
function updateRoundTimer() {
  const round = view && latestRound(view);
  const timer = byId("round-timer");
  if (!round || round.status !== "voting") {
    timer.hidden = true;
    return;
  }
  const elapsed = Math.max(0, Date.now() / 1000 - round.opened_at);
  byId("round-timer-value").textContent = formatDuration(elapsed);
  timer.hidden = false;
}

setInterval(updateRoundTimer, 1000);

const autoRevealBox = byId("auto-reveal");
const autoRevealStatus = byId("auto-reveal-status");
const autoRevealStorageKey = `common-ground:auto-reveal:${workshopId}`;
autoRevealBox.checked = storageGet(autoRevealStorageKey) === "on";
/**
 * How long everyone connected must have voted before the automatic reveal. A phone
 * that drops for a moment (a lock, a Wi-Fi hand-over) reconnects well within it, so
 * its brief absence does not end the round early. The last voter also gets a moment
 * to change their vote.
 */
const AUTO_REVEAL_DELAY_MS = 3_000;
/** The console view last rendered, so the box and the delay can act on the latest one. */
let lastConsoleView = null;
/** The round this console last sent an automatic reveal for, so it sends one only once. */
let autoRevealedRound = null;
/** The pending reveal: {round, timer}, or null. */
let pendingAutoReveal = null;

autoRevealBox.addEventListener("change", () => {
  storageSet(autoRevealStorageKey, autoRevealBox.checked ? "on" : "off");
  if (lastConsoleView) {
    revealWhenAllVoted(lastConsoleView);
  }
});

/**
 * Returns whether, for every role, at least as many have voted in the round as are
 * connected now, with at least one participant connected.
 */
// NOTE: the view gives counts, not who voted, so a voter who left and a connected
// participant who has not voted yet cancel out and the round is revealed early.
function everyoneConnectedVoted(consoleView, round) {
  const voted = new Map(round.voted.map((entry) => [entry.role, entry.count]));
  const connected = consoleView.connected.participants;
  const connectedTotal = connected.reduce((sum, entry) => sum + entry.count, 0);
  return connectedTotal > 0 && connected.every((entry) => (voted.get(entry.role) ?? 0) >= entry.count);
}

function cancelAutoReveal() {
  if (pendingAutoReveal) {
    clearTimeout(pendingAutoReveal.timer);
    pendingAutoReveal = null;
    autoRevealStatus.textContent = "";
  }
}

/**
 * Reveals the open round when auto-reveal is on and everyone connected has voted,
 * and still has AUTO_REVEAL_DELAY_MS later.
 *
 * Every console with the box ticked sends the reveal, and the server accepts only
 * the first, so the others' `round_revealed` errors are dropped without a message.
 */
function revealWhenAllVoted(consoleView) {
  lastConsoleView = consoleView;
  const round = latestRound(consoleView.room);
  const ready =
    autoRevealBox.checked &&
    round !== null &&
    round.status === "voting" &&
    autoRevealedRound !== round.number &&
    everyoneConnectedVoted(consoleView, round);
  if (!ready) {
    cancelAutoReveal();
    return;
  }
  if (pendingAutoReveal && pendingAutoReveal.round === round.number) {
    return;
  }
  cancelAutoReveal();
  autoRevealStatus.textContent = `Everyone connected has voted: revealing round ${round.number} in ${AUTO_REVEAL_DELAY_MS / 1000} seconds.`;
  pendingAutoReveal = {
    round: round.number,
    timer: setTimeout(() => sendAutoReveal(round.number), AUTO_REVEAL_DELAY_MS),
  };
}

function sendAutoReveal(roundNumber) {
  pendingAutoReveal = null;
  autoRevealStatus.textContent = "";
  const round = lastConsoleView && latestRound(lastConsoleView.room);
  if (!round || round.number !== roundNumber || round.status !== "voting") {
    return;
  }
  autoRevealedRound = roundNumber;
  connection.send({ type: "reveal", round: roundNumber }).catch((error) => {
    if (error.code === "round_revealed") {
      return;
    }
    // Let a later view try again, e.g. after a dropped connection.
    autoRevealedRound = null;
    showError(`Revealing round ${roundNumber} automatically failed: ${error.message}`);
  });
}

// Actions ------------------------------------------------------------------------------

function openRound() {
  if (!buttons.open.disabled) {
    runCommand({ type: "open_round", item: currentItemId(view) });
  }
}

function reveal() {
  const round = view && latestRound(view);
  if (!buttons.reveal.disabled && round) {
    runCommand({ type: "reveal", round: round.number });
  }
}

function revote() {
  if (!buttons.revote.disabled) {
    runCommand({ type: "open_round", item: currentItemId(view) });
  }
}

function next() {
  const entry = view && nextAgendaItem(view);
  if (!buttons.next.disabled && entry) {
    runCommand({ type: "show_item", item: entry.principle_id });
  }
}

function focusRecordForm() {
  const target = levelSelect.disabled ? notesInput : levelSelect;
  target.scrollIntoView({ block: "center" });
  target.focus();
}

buttons.open.addEventListener("click", openRound);
buttons.reveal.addEventListener("click", reveal);
buttons.revote.addEventListener("click", revote);
buttons.next.addEventListener("click", next);
buttons.recordJump.addEventListener("click", focusRecordForm);

byId("agenda").addEventListener("click", (event) => {
  const button = event.target.closest("button[data-item]");
  if (button && view && currentItemId(view) !== button.dataset.item) {
    runCommand({ type: "show_item", item: button.dataset.item });
  }
});

for (const control of [levelSelect, notesInput]) {
  control.addEventListener("input", () => {
    recordFormEdited = true;
    byId("record-status").textContent = "Not saved yet.";
  });
}

recordForm.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    recordForm.requestSubmit();
  }
});

recordForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!view || !view.current || buttons.record.disabled) {
    return;
  }
  const status = byId("record-status");
  status.textContent = "Saving…";
  const saved = await runCommand({
    type: "record",
    item: currentItemId(view),
    level: levelSelect.value === "" || levelSelect.disabled ? null : Number(levelSelect.value),
    notes: notesInput.value,
  });
  if (saved) {
    recordFormEdited = false;
    announce(status, "Saved.");
  } else {
    status.textContent = "Not saved: see the error at the top of the page.";
  }
});

/** Keyboard shortcuts; ignored while typing in a field or with a modifier key held. */
const shortcuts = { o: openRound, r: reveal, v: revote, s: focusRecordForm, n: next };

document.addEventListener("keydown", (event) => {
  if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || !view) {
    return;
  }
  const target = event.target;
  if (target instanceof HTMLElement && (target.isContentEditable || target.closest("input, textarea, select"))) {
    return;
  }
  const action = shortcuts[event.key.toLowerCase()];
  if (action) {
    event.preventDefault();
    action();
  }
});

// Links and export ---------------------------------------------------------------------

function renderLinks(joinUrl) {
  const projector = byId("projector-link");
  projector.href = `/projector/${encodeURIComponent(workshopId)}`;
  projector.textContent = `${location.origin}/projector/${workshopId}`;
  const join = byId("join-link");
  join.href = joinUrl;
  join.textContent = joinUrl;
  byId("facilitator-link").value = facilitatorLink();
  // The report page reads the token from the fragment and then removes it from its address.
  byId("report-link").href = `/report/${encodeURIComponent(workshopId)}#token=${token}`;
}

byId("copy-button").addEventListener("click", async () => {
  const status = byId("copy-status");
  const input = byId("facilitator-link");
  try {
    await navigator.clipboard.writeText(input.value);
    announce(status, "Copied.");
  } catch {
    // The Clipboard API needs a secure context (HTTPS or localhost); fall back to
    // the older selection-based copy.
    input.select();
    const copied = document.execCommand("copy");
    announce(status, copied ? "Copied." : "Copying failed: the link is selected, so copy it with Ctrl+C.");
  }
});

function filenameFromDisposition(header) {
  if (!header) {
    return null;
  }
  const match = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(header);
  return match ? decodeURIComponent(match[1]) : null;
}

/** Downloads an export: fetched with the token in a header, then saved through an object URL. */
async function downloadExport(format) {
  const status = byId("export-status");
  announce(status, `Preparing the ${format.toUpperCase()} export…`);
  showError("");
  let response;
  try {
    response = await fetch(`/api/workshops/${encodeURIComponent(workshopId)}/export.${format}`, {
      headers: { Authorization: `Bearer ${token}` },
    });
  } catch (error) {
    announce(status, "");
    showError(`Downloading the ${format.toUpperCase()} export failed: ${error.message}.`);
    return;
  }
  if (!response.ok) {
    announce(status, "");
    showError(await errorDetail(response, `Downloading the ${format.toUpperCase()} export`));
    return;
  }
  const blob = await response.blob();
  const filename = filenameFromDisposition(response.headers.get("Content-Disposition")) ?? `workshop-${workshopId}.${format}`;
  const url = URL.createObjectURL(blob);
  const link = element("a", { href: url, download: filename, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  // Revoking at once can cancel the download in some browsers, so wait a little.
  setTimeout(() => URL.revokeObjectURL(url), 30_000);
  announce(status, `Downloaded ${filename}.`);
}

/** Deletes the workshop after the facilitator confirms, then removes its stored token. */
async function deleteWorkshop() {
  const title = view ? view.title : workshopId;
  if (!confirm(`Delete "${title}" with all its votes, agreements and notes? This cannot be undone.`)) {
    return;
  }
  showError("");
  let response;
  try {
    response = await fetch(`/api/workshops/${encodeURIComponent(workshopId)}`, {
      method: "DELETE",
      headers: { Authorization: `Bearer ${token}` },
    });
  } catch (error) {
    showError(`Deleting the workshop failed: ${error.message}. Try again.`);
    return;
  }
  if (!response.ok) {
    showError(await errorDetail(response, "Deleting the workshop"));
    return;
  }
  connection.stop();
  forgetToken(workshopId);
  consoleBody.hidden = true;
  showError("The workshop and all its data are deleted.");
}

byId("delete-button").addEventListener("click", deleteWorkshop);
byId("export-csv").addEventListener("click", () => downloadExport("csv"));
byId("export-json").addEventListener("click", () => downloadExport("json"));
byId("export-xlsx").addEventListener("click", () => downloadExport("xlsx"));
byId("export-md").addEventListener("click", () => downloadExport("md"));

// Connection ---------------------------------------------------------------------------

const connection = new Connection({
  hello: () => ({ type: "control", workshop: workshopId, token }),
  statusElement: byId("connection-status"),
  storeStatusElement: byId("store-status"),
  onMessage(message) {
    switch (message.type) {
      case "welcome":
        showError("");
        renderLinks(message.join_url);
        consoleBody.hidden = false;
        byId("token-missing").hidden = true;
        break;
      case "console":
        render(message.view);
        break;
      case "error":
        showError(message.message);
        if (message.code === "workshop_deleted") {
          consoleBody.hidden = true;
        }
        break;
      default:
        break;
    }
  },
  onRejected(error) {
    connection.stop();
    if (error.code === "forbidden" || error.code === "invalid_message") {
      // A wrong or damaged token stays wrong: forget it and ask for the link again.
      forgetToken(workshopId);
      token = null;
      showError(
        error.code === "forbidden"
          ? error.message
          : "That facilitator link is incomplete or damaged. Paste the whole link, including the part after #token=.",
      );
      askForToken();
      return;
    }
    showError(error.message);
  },
});

function askForToken() {
  consoleBody.hidden = true;
  byId("token-missing").hidden = false;
  byId("token-input").focus();
}

byId("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const parsed = parseToken(byId("token-input").value);
  if (!parsed) {
    showError("That is not a facilitator link or token. Paste the whole link, including the part after #token=.");
    return;
  }
  token = parsed;
  storeToken(workshopId, token);
  showError("");
  connection.start();
});

// A facilitator link pasted into the address bar of this page changes only its
// fragment, which reloads nothing: take the token from it.
window.addEventListener("hashchange", () => {
  if (!pageHasTokenFragment()) {
    return;
  }
  const pasted = readPageToken(workshopId);
  if (!pasted || pasted === token) {
    return;
  }
  token = pasted;
  showError("");
  connection.stop();
  connection.start();
});

if (!workshopId) {
  showError("This page needs a workshop id in its address, as in /console/ID.");
} else if (!token) {
  if (linkCutShort) {
    showError("That facilitator link is incomplete. Paste the whole link, including the part after #token=.");
  }
  askForToken();
} else {
  connection.start();
}
