// The projector page: the big screen that the whole room reads.
//
// The page has one layout per mode, chosen from the room view and set as
// `data-mode` on <main> for the stylesheet:
//   join        no item on screen yet: join code, QR code and link fill the screen
//   preview     an item with levels but no round yet: principle, levels and join panel
//   discussion  an item without levels: principle, description and join panel
//   voting      a round is open: principle, levels and live "N voted" per role
//   revealed    the latest round is revealed: principle and results
//   recorded    an agreement is recorded for an item with levels and no round is
//               open: the principle's row of the rubric grid with the agreed cell
//               marked, a one-line summary of the last round, and the notes

import { Connection } from "./connection.js";
import { element } from "./dom.js";
import { renderDescription, renderDescriptors, renderPrincipleHeading } from "./principle.js";
import {
  currentAgendaEntry,
  describeGap,
  latestRound,
  renderAgreedRow,
  renderAgreement,
  renderNotes,
  renderResult,
  renderVotedCounts,
} from "./results.js";

const workshopId = decodeURIComponent(location.pathname.split("/")[2] ?? "");

const byId = (id) => document.getElementById(id);
const main = byId("main");
const errorRegion = byId("projector-error");

let joinUrl = "";

function showError(message) {
  errorRegion.replaceChildren(...(message ? [element("p", { text: message })] : []));
}

/** Returns a URL without its scheme, which is shorter to read off a screen and to type. */
function displayUrl(url) {
  return url.replace(/^https?:\/\//, "");
}

function modeOf(view) {
  const round = latestRound(view);
  if (!view.current) {
    return "join";
  }
  if (round && round.status === "voting") {
    return "voting";
  }
  const entry = currentAgendaEntry(view);
  if (view.current.has_levels && entry && entry.recorded) {
    return "recorded";
  }
  if (round && round.status === "revealed") {
    return "revealed";
  }
  return view.current.has_levels ? "preview" : "discussion";
}

function renderJoinDetails(view) {
  const url = joinUrl || `${location.origin}/j/${view.join_code}`;
  byId("join-code").textContent = view.join_code;
  byId("strip-code").textContent = view.join_code;
  byId("join-url").textContent = displayUrl(url);
  byId("strip-url").textContent = displayUrl(url);
  // The image is made here because its address needs the workshop id.
  const slot = byId("qr-slot");
  const qrSource = `/api/workshops/${encodeURIComponent(view.workshop_id)}/qr.svg`;
  if (slot.firstElementChild?.getAttribute("src") !== qrSource) {
    slot.replaceChildren(
      element("img", { className: "qr", src: qrSource, alt: "QR code to join", width: 330, height: 330 }),
    );
  }
}

function render(view) {
  const mode = modeOf(view);
  const round = latestRound(view);
  main.dataset.mode = mode;
  document.title = `${view.title} · Projector · Common Ground`;
  byId("workshop-title").textContent = view.title;
  byId("workshop-unit").textContent = view.unit;
  renderJoinDetails(view);
  const fullScreenMode = mode === "voting" || mode === "revealed" || mode === "recorded";
  byId("join-strip").hidden = !fullScreenMode;
  byId("join-panel").hidden = fullScreenMode;

  const principle = byId("principle");
  const live = byId("live");
  const detail = byId("detail");

  if (mode === "join") {
    principle.replaceChildren(
      element("p", { className: "waiting", text: "The workshop will start soon." }),
    );
  } else {
    principle.replaceChildren(renderPrincipleHeading(view.current, 2));
  }

  if (mode === "voting") {
    live.replaceChildren(
      element("p", { className: "live-label", text: `Round ${round.number}: vote on your phone` }),
      renderVotedCounts(round, view),
    );
  } else {
    live.replaceChildren();
  }

  if (mode === "preview" || mode === "voting") {
    detail.replaceChildren(renderDescriptors(view.current, view.levels));
  } else if (mode === "revealed") {
    detail.replaceChildren(
      element("h2", { className: "results-heading", text: `Results of round ${round.number}` }),
      renderResult(round.result, view),
    );
  } else if (mode === "recorded") {
    detail.replaceChildren(...renderRecorded(view, currentAgendaEntry(view), round));
  } else if (mode === "discussion") {
    detail.replaceChildren(renderDescription(view.current));
  } else {
    detail.replaceChildren();
  }

  let agreement = null;
  if (mode === "recorded") {
    agreement = renderRecordedNotes(currentAgendaEntry(view));
  } else if (mode !== "join" && mode !== "voting") {
    agreement = renderAgreement(currentAgendaEntry(view), view);
  }
  byId("agreement").replaceChildren(...(agreement ? [agreement] : []));
  fitToScreen();
}

/** Returns the agreed level as a headline, the rubric row with its cell marked and the last result. */
function renderRecorded(view, entry, round) {
  const levelName =
    entry.agreed_level === null ? null : (view.levels[entry.agreed_level - 1] ?? `Level ${entry.agreed_level}`);
  const children = [
    element("h2", { className: "agreed-headline" }, [
      levelName === null ? "Recorded: no level agreed" : "Agreed by the room: ",
      levelName === null ? null : element("strong", { text: levelName }),
    ]),
    renderAgreedRow(view.current, entry, view.levels),
  ];
  if (round && round.result) {
    const consensus = round.result.consensus;
    children.push(
      element("p", { className: "last-round" }, [
        element("strong", { text: `Round ${round.number}: ` }),
        describeGap(round.result, view),
        consensus === null ? "" : ` Consensus ${Math.round(consensus * 100)}%.`,
      ]),
    );
  }
  return children;
}

/**
 * Returns the recorded notes, or null without notes. The box scrolls when the notes
 * are longer than the screen can hold at the smallest --fit-scale, so it takes
 * keyboard focus (tabindex 0) for anyone reading the projector page on a laptop.
 */
function renderRecordedNotes(entry) {
  if (entry.notes.trim() === "") {
    return null;
  }
  return element("section", { className: "recorded-notes", "aria-labelledby": "notes-heading" }, [
    element("h2", { id: "notes-heading", text: "Notes" }),
    element("div", { className: "notes-scroll", tabindex: "0", "aria-labelledby": "notes-heading" }, [
      renderNotes(entry.notes),
    ]),
  ]);
}

/** Smallest and largest --fit-scale: the text shrinks to fit long descriptors, but no further. */
const MIN_FIT_SCALE = 0.6;
const MAX_FIT_SCALE = 1.25;
const FIT_STEP = 0.05;

/**
 * Sets --fit-scale on <main> to the largest step that fits the page in the window
 * without scrolling, because a projector cannot be scrolled from the back of a room.
 */
function fitToScreen() {
  const page = document.documentElement;
  let scale = MAX_FIT_SCALE;
  main.style.setProperty("--fit-scale", String(scale));
  while (scale > MIN_FIT_SCALE && (page.scrollHeight > innerHeight || page.scrollWidth > innerWidth)) {
    scale = Math.round((scale - FIT_STEP) * 100) / 100;
    main.style.setProperty("--fit-scale", String(scale));
  }
}

let fitFrame = 0;

function fitSoon() {
  cancelAnimationFrame(fitFrame);
  fitFrame = requestAnimationFrame(fitToScreen);
}

addEventListener("resize", fitSoon);
// An error or a paused notice above <main> takes height from it.
new ResizeObserver(fitSoon).observe(document.querySelector(".projector-notices"));

const connection = new Connection({
  hello: () => ({ type: "watch", workshop: workshopId }),
  statusElement: byId("connection-status"),
  storeStatusElement: byId("store-status"),
  onMessage(message) {
    switch (message.type) {
      case "welcome":
        showError("");
        joinUrl = message.join_url;
        break;
      case "room":
        render(message.view);
        break;
      case "error":
        showError(message.message);
        if (message.code === "workshop_deleted") {
          main.hidden = true;
          byId("join-strip").hidden = true;
        }
        break;
      default:
        break;
    }
  },
  onRejected(error) {
    connection.stop();
    showError(error.message);
  },
});

if (workshopId) {
  connection.start();
} else {
  showError("This page needs a workshop id in its address, as in /projector/ID.");
}
