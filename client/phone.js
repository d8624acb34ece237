// The participant's phone: join with a code, say which group you are in, then
// place each principle at a level while a round is open.
//
// Each phone keeps a participant token per join code in localStorage, so a reload,
// a second tab or a reconnect resumes the same participant and the same vote.

import { CommandError, Connection } from "./connection.js";
import { announce, element, errorDetail, replaceChildrenKeepingFocus } from "./dom.js";
import { renderDescription, renderDescriptors, renderPrincipleHeading } from "./principle.js";
import { currentAgendaEntry, latestRound, renderAgreement, renderResult } from "./results.js";

/** Join codes use these letters and digits; I, O, 0 and 1 are left out as easy to confuse. */
const JOIN_CODE_PATTERN = /^[A-HJ-NP-Z2-9]{6}$/;

const byId = (id) => document.getElementById(id);
const errorRegion = byId("phone-error");
const stage = byId("stage");
const voteStatus = byId("vote-status");
const statusElement = byId("connection-status");

/** Returns a join code as the server stores it: upper case, without spaces or dashes. */
function normaliseCode(text) {
  return text.replace(/[\s-]+/g, "").toUpperCase();
}

function showError(message) {
  errorRegion.replaceChildren(...(message ? [element("p", { text: message })] : []));
}

/**
 * How long each kind of message stays in the status bar at the bottom of the screen.
 * The bar floats over the page, so it clears itself after a while. The same facts
 * stay in the page itself, in the "Your vote" line and on the marked level. A pending
 * message ("Sending…", "Not sent yet") stays until the next message replaces it.
 */
const STATUS_BAR_MS = { info: 6_000, error: 12_000, pending: null };
let statusBarTimer = 0;

/** Shows and announces a message in the status bar; `kind` is info, error or pending. */
function showStatus(text, kind = "info") {
  clearTimeout(statusBarTimer);
  voteStatus.classList.toggle("is-error", kind === "error");
  announce(voteStatus, text);
  const shownFor = STATUS_BAR_MS[kind];
  if (text && shownFor) {
    statusBarTimer = setTimeout(() => announce(voteStatus, ""), shownFor);
  }
}

// Code entry ---------------------------------------------------------------------------

function showCodeEntry(prefill = "") {
  byId("code-entry").hidden = false;
  document.querySelector(".phone-footer").hidden = true;
  byId("role-choice").hidden = true;
  stage.replaceChildren();
  const input = byId("code-input");
  input.value = prefill;
  input.focus();
}

byId("code-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = byId("code-input");
  const code = normaliseCode(input.value);
  if (!JOIN_CODE_PATTERN.test(code)) {
    input.setAttribute("aria-invalid", "true");
    showError(
      code.length === 6
        ? `"${code}" is not a join code: codes use letters A to Z without I and O, and digits 2 to 9.`
        : `A join code has 6 letters and digits; "${code}" has ${code.length}.`,
    );
    input.focus();
    return;
  }
  location.assign(`/j/${code}`);
});

// Participant storage ------------------------------------------------------------------

function storageKey(code) {
  return `common-ground:participant:${code}`;
}

/** Returns the stored {token, role} for a join code; an empty object when none or unreadable. */
function loadParticipant(code) {
  try {
    return JSON.parse(localStorage.getItem(storageKey(code))) ?? {};
  } catch {
    return {};
  }
}

function saveParticipant(code, participant) {
  try {
    localStorage.setItem(storageKey(code), JSON.stringify(participant));
  } catch (error) {
    console.warn("Storing the participant token failed, so a reload joins as someone new:", error);
  }
}

/** Returns 32 random bytes as base64url without padding: 43 characters. */
function newToken() {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const base64 = btoa(String.fromCharCode(...bytes));
  return base64.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

// Joining ------------------------------------------------------------------------------

const code = normaliseCode(decodeURIComponent(location.pathname.split("/")[2] ?? ""));
const participant = code ? loadParticipant(code) : {};
if (code && !/^[A-Za-z0-9_-]{22,128}$/.test(participant.token ?? "")) {
  participant.token = newToken();
  participant.role = null;
  saveParticipant(code, participant);
}

/** The workshop's title, unit and roles, from GET /api/join/{code}. */
let joinInfo = null;
let view = null;
let connection = null;
/** Whether the participant just picked a role, so the welcome is announced. */
let joiningWithChosenRole = false;

async function lookUpCode() {
  let response;
  try {
    response = await fetch(`/api/join/${encodeURIComponent(code)}`, { headers: { Accept: "application/json" } });
  } catch (error) {
    showError(`Looking up the join code failed: ${error.message}. Check your connection and reload the page.`);
    return null;
  }
  if (!response.ok) {
    showError(await errorDetail(response, "Looking up the join code"));
    if (response.status === 404) {
      showCodeEntry(code);
    }
    return null;
  }
  return response.json();
}

function roleNameOf(roleId) {
  let roles = [];
  if (view) {
    roles = view.roles;
  } else if (joinInfo) {
    roles = joinInfo.roles;
  }
  const role = roles.find((candidate) => candidate.id === roleId);
  return role ? role.name : roleId;
}

function showRoleChoice() {
  const section = byId("role-choice");
  const roles = joinInfo ? joinInfo.roles : [];
  byId("role-buttons").replaceChildren(
    ...roles.map((role) =>
      element("button", {
        type: "button",
        className: "button button-wide role-button",
        dataset: { role: role.id },
        text: role.name,
      }),
    ),
  );
  section.hidden = false;
  section.querySelector("button")?.focus();
}

byId("role-buttons").addEventListener("click", (event) => {
  const button = event.target.closest("button[data-role]");
  if (!button) {
    return;
  }
  participant.role = button.dataset.role;
  showError("");
  for (const roleButton of byId("role-buttons").querySelectorAll("button")) {
    roleButton.disabled = true;
  }
  joiningWithChosenRole = true;
  showStatus(`Joining as ${button.textContent}…`, "pending");
  connection.resendHello();
});

function showWelcome(message) {
  if (message.participant_token) {
    participant.token = message.participant_token;
  }
  participant.role = message.role;
  saveParticipant(code, participant);
  byId("role-choice").hidden = true;
  const roleLine = byId("role-line");
  roleLine.textContent = `You are taking part as: ${roleNameOf(message.role)}`;
  roleLine.hidden = false;
  if (joiningWithChosenRole) {
    joiningWithChosenRole = false;
    showStatus(`Joined as ${roleNameOf(message.role)}.`);
  }
}

function handleRejectedJoin(error) {
  if (error.code === "role_required" || error.code === "unknown_role") {
    participant.role = null;
    saveParticipant(code, participant);
    if (error.code === "unknown_role") {
      showError(error.message);
    }
    showRoleChoice();
    return;
  }
  connection.stop();
  showError(error.message);
  if (error.code === "not_found") {
    showCodeEntry(code);
  }
}

// Voting -------------------------------------------------------------------------------

/** The stored vote in the latest round, from `your_vote` or an `ack`: {round, voted, level}. */
let confirmedVote = null;
/** A vote sent and not yet acknowledged: {round, level}. */
let sendingVote = null;
/** A vote that could not be sent while disconnected, sent again after reconnecting. */
let unsentVote = null;
/** A digest of the view data the stage was last built from; the stage is rebuilt when it changes. */
let stageKey = null;

/** The tag shown on the chosen level button for each state of the choice. */
const CHOICE_MARKS = { sending: "Sending…", unsent: "Not sent yet", received: "✓ Your vote" };

function levelName(level) {
  return level === null ? "Not sure" : (view.levels[level - 1] ?? `Level ${level}`);
}

/** Returns the choice to show as selected in a round: sending, then unsent, then confirmed. */
function shownChoice(roundNumber) {
  if (sendingVote && sendingVote.round === roundNumber) {
    return { level: sendingVote.level, state: "sending" };
  }
  if (unsentVote && unsentVote.round === roundNumber) {
    return { level: unsentVote.level, state: "unsent" };
  }
  if (confirmedVote && confirmedVote.round === roundNumber && confirmedVote.voted) {
    return { level: confirmedVote.level, state: "received" };
  }
  return null;
}

async function castVote(roundNumber, level) {
  const attempt = { round: roundNumber, level };
  sendingVote = attempt;
  unsentVote = null;
  showError("");
  updateVoteButtons();
  showStatus(`Sending your vote: ${levelName(level)}…`, "pending");
  try {
    await connection.send({ type: "vote", round: roundNumber, level });
    if (sendingVote !== attempt) {
      return;
    }
    sendingVote = null;
    confirmedVote = { round: roundNumber, voted: true, level };
    showStatus(`Vote received: ${levelName(level)}. You can change it until the results are shown.`);
  } catch (error) {
    if (sendingVote !== attempt) {
      return;
    }
    sendingVote = null;
    if (error instanceof CommandError && (error.code === "not_connected" || error.code === "disconnected")) {
      unsentVote = attempt;
      showStatus("Not connected: your vote will be sent when the connection is back.", "pending");
    } else {
      // The status bar stays in view at the bottom of the screen, unlike the error
      // region at the top, so a refused vote is reported where the tap happened.
      showStatus(error.message, "error");
    }
  }
  updateVoteButtons();
}

/** Sends a vote kept while disconnected, if its round is still open; called on each room view. */
function resendUnsentVote() {
  if (!unsentVote || !connection.welcomed) {
    return;
  }
  const round = latestRound(view);
  if (round && round.number === unsentVote.round && round.status === "voting") {
    castVote(unsentVote.round, unsentVote.level);
  } else {
    unsentVote = null;
    showStatus("Your last vote was not sent before the round closed.", "error");
  }
}

/**
 * Returns one level's button. A closed round's buttons are aria-disabled rather than
 * disabled, so they stay readable and focusable and a tap gets a message saying why
 * the vote cannot change.
 */
function renderVoteButton(level, name, descriptor, closed) {
  const key = level === null ? "not-sure" : String(level);
  return element(
    "button",
    {
      type: "button",
      className: level === null ? "level-button not-sure" : "level-button",
      "aria-pressed": "false",
      "aria-disabled": closed ? "true" : null,
      dataset: { level: key, focusKey: `level-${key}` },
    },
    [
      element("span", { className: "level-name", text: name }),
      descriptor ? element("span", { className: "level-descriptor", text: descriptor }) : null,
      element("span", { className: "level-mark", "aria-hidden": "true" }),
    ],
  );
}

function renderVoteButtons(round, closed) {
  const buttons = view.current.descriptors.map((descriptor, index) =>
    renderVoteButton(index + 1, view.levels[index] ?? `Level ${index + 1}`, descriptor, closed),
  );
  buttons.push(renderVoteButton(null, "Not sure", "", closed));
  return element("div", { className: "level-buttons", role: "group", "aria-label": `Your vote in round ${round.number}` }, buttons);
}

/** Marks the chosen button (pressed, with a visible "sending" or "your vote" tag). */
function updateVoteButtons() {
  const round = view && latestRound(view);
  if (!round) {
    return;
  }
  const choice = shownChoice(round.number);
  for (const button of stage.querySelectorAll(".level-button")) {
    const level = button.dataset.level === "not-sure" ? null : Number(button.dataset.level);
    const chosen = choice !== null && choice.level === level;
    button.setAttribute("aria-pressed", chosen ? "true" : "false");
    button.classList.toggle("is-chosen", chosen);
    const mark = button.querySelector(".level-mark");
    mark.textContent = chosen ? CHOICE_MARKS[choice.state] : "";
  }
  const own = stage.querySelector(".own-vote");
  if (own) {
    own.textContent = describeOwnVote(round);
  }
}

function describeOwnVote(round) {
  if (round.status === "voting") {
    const choice = shownChoice(round.number);
    if (choice === null) {
      return "You have not voted in this round yet.";
    }
    if (choice.state === "sending") {
      return `Sending your vote: ${levelName(choice.level)}…`;
    }
    if (choice.state === "unsent") {
      return `Your vote for ${levelName(choice.level)} is not sent yet: it is sent when the connection is back.`;
    }
    return `✓ Vote received: ${levelName(choice.level)}. You can change it until the results are shown.`;
  }
  if (!confirmedVote || confirmedVote.round !== round.number) {
    return "";
  }
  if (!confirmedVote.voted) {
    return "You did not vote in this round.";
  }
  return `Your vote: ${levelName(confirmedVote.level)}.`;
}

// Rendering ----------------------------------------------------------------------------

function render() {
  const round = latestRound(view);
  const entry = currentAgendaEntry(view);
  byId("workshop-title").textContent = view.title;
  byId("workshop-unit").textContent = view.unit;
  document.title = `${view.title} · Common Ground`;

  // Other people's votes change the view often. Rebuilding only when something shown
  // here changes keeps focus and a screen reader's place on the page.
  const key = JSON.stringify([
    view.current,
    round && [round.number, round.status, round.result],
    entry && [entry.recorded, entry.agreed_level, entry.notes],
  ]);
  if (key !== stageKey) {
    stageKey = key;
    replaceChildrenKeepingFocus(stage, buildStage(round, entry));
    announceRoundChange(round);
  }
  updateVoteButtons();
}

/**
 * The item, round and status last seen ("joined-up-approach 2:voting"), so each
 * opening and reveal is announced once. It is undefined until the first view,
 * which is shown without an announcement.
 */
let announcedRound = undefined;

function announceRoundChange(round) {
  const itemId = view.current ? view.current.id : "";
  const roundState = round ? `${itemId} ${round.number}:${round.status}` : itemId;
  if (roundState === announcedRound) {
    return;
  }
  const firstView = announcedRound === undefined;
  announcedRound = roundState;
  if (firstView) {
    return;
  }
  if (!round) {
    // A new item without a round: the last item's vote status no longer applies.
    showStatus("");
    return;
  }
  if (round.status === "voting") {
    showStatus(`Round ${round.number} is open: tap a level to vote.`);
  } else {
    showStatus(`Voting is closed: the results of round ${round.number} are shown.`);
  }
}

function buildStage(round, entry) {
  const current = view.current;
  if (!current) {
    return [element("p", { className: "waiting", text: "You're in. Waiting for the facilitator to show the first principle." })];
  }
  const children = [renderPrincipleHeading(current, 2)];
  const agreement = renderAgreement(entry, view);

  if (!current.has_levels) {
    children.push(renderDescription(current));
    children.push(element("p", { className: "waiting", text: "This is a discussion item: there is no vote." }));
  } else if (!round) {
    children.push(element("p", { className: "waiting", text: "The vote has not opened yet. You can read the levels below." }));
    children.push(renderDescriptors(current, view.levels));
  } else if (round.status === "voting") {
    children.push(
      element("p", {
        className: "instructions",
        text: `Tap the level that best describes ${view.unit} now. You can change your vote until the results are shown.`,
      }),
    );
    children.push(element("p", { className: "own-vote", text: describeOwnVote(round) }));
    children.push(renderVoteButtons(round, false));
  } else {
    children.push(element("h2", { className: "results-heading", text: `Results of round ${round.number}` }));
    children.push(element("p", { className: "own-vote", text: describeOwnVote(round) }));
    children.push(renderResult(round.result, view, { compact: true }));
    children.push(element("h3", { className: "levels-heading", text: "The levels (voting is closed)" }));
    children.push(renderVoteButtons(round, true));
  }
  if (agreement) {
    children.push(agreement);
  }
  return children;
}

stage.addEventListener("click", (event) => {
  const button = event.target.closest("button.level-button");
  const round = view && latestRound(view);
  if (!button || !round) {
    return;
  }
  if (round.status !== "voting" || button.getAttribute("aria-disabled") === "true") {
    showStatus(`Round ${round.number} is closed: its results are shown, so your vote cannot change.`, "error");
    return;
  }
  const level = button.dataset.level === "not-sure" ? null : Number(button.dataset.level);
  castVote(round.number, level);
});

// Start --------------------------------------------------------------------------------

async function start() {
  if (!code) {
    showCodeEntry();
    return;
  }
  if (!JOIN_CODE_PATTERN.test(code)) {
    showError(`"${code}" is not a join code. Check the code on the screen and type it below.`);
    showCodeEntry(code);
    return;
  }
  joinInfo = await lookUpCode();
  if (!joinInfo) {
    return;
  }
  byId("workshop-title").textContent = joinInfo.title;
  byId("workshop-unit").textContent = joinInfo.unit;
  document.title = `${joinInfo.title} · Common Ground`;
  statusElement.hidden = false;

  connection = new Connection({
    hello: () => ({ type: "join", code, role: participant.role ?? null, token: participant.token }),
    statusElement,
    storeStatusElement: byId("store-status"),
    onMessage(message) {
      switch (message.type) {
        case "welcome":
          showWelcome(message);
          break;
        case "room":
          view = message.view;
          render();
          resendUnsentVote();
          break;
        case "your_vote":
          confirmedVote = message;
          updateVoteButtons();
          break;
        case "error":
          showError(message.message);
          if (message.code === "workshop_deleted") {
            stage.replaceChildren();
            showStatus("");
            byId("role-line").hidden = true;
          }
          break;
        default:
          break;
      }
    },
    onRejected: handleRejectedJoin,
  });
  connection.start();
}

start();
