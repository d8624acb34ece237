// The comparison page: several workshops of one rubric side by side, with the movement
// since the previous workshop of the same unit and the largest staff–student gaps.
// Facilitator tokens travel only in the Authorization header, never in a URL.

import { announce, element, errorDetail } from "./dom.js";
import { parseFacilitatorLink, tokenStorageKey } from "./facilitator-token.js";

const byId = (id) => document.getElementById(id);
const form = byId("compare-form");
const linksInput = byId("compare-links");
const passwordInput = byId("compare-password");
const csvButton = byId("compare-csv");
const statusElement = byId("compare-status");
const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** The request of the last comparison shown, reused by the CSV download. */
let lastRequest = null;

function showError(message) {
  byId("compare-error").replaceChildren(...(message ? [element("p", { text: message })] : []));
}

/** Returns {ids, authorization} from the form, or throws an Error saying what to fix. */
function readForm() {
  const lines = linksInput.value
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean);
  const password = passwordInput.value;
  const ids = [];
  const tokens = [];
  lines.forEach((line, index) => {
    const link = parseFacilitatorLink(line);
    if (link) {
      ids.push(link.workshopId);
      tokens.push(link.token);
    } else if (password && ID_PATTERN.test(line)) {
      ids.push(line);
    } else {
      throw new Error(
        `Line ${index + 1} is not a facilitator link. Paste the whole link, including the part after #token=, ` +
          "or enter the organiser password to compare by workshop id.",
      );
    }
  });
  if (ids.length < 2) {
    throw new Error("Enter at least two workshops to compare.");
  }
  return { ids, authorization: `Bearer ${password || tokens.join(",")}` };
}

async function fetchComparison(request, format) {
  const path = format === "csv" ? "/api/compare.csv" : "/api/compare";
  const query = new URLSearchParams({ workshops: request.ids.join(",") });
  return fetch(`${path}?${query}`, { headers: { Authorization: request.authorization } });
}

function formatNumber(value) {
  return Number.isInteger(value) ? String(value) : value.toFixed(2).replace(/0$/, "");
}

function workshopLabel(workshop) {
  const date = new Date(workshop.created_at * 1000).toLocaleDateString(undefined, {
    year: "numeric",
    month: "short",
    day: "numeric",
  });
  return `${workshop.title} (${workshop.unit}, ${date})`;
}

function movementText(cell, previous) {
  if (cell.movement === null || !previous) {
    return null;
  }
  const since = `since ${previous.title}`;
  if (cell.movement === 0) {
    return `= no change ${since}`;
  }
  const levels = Math.abs(cell.movement) === 1 ? "level" : "levels";
  return cell.movement > 0
    ? `▲ up ${cell.movement} ${levels} ${since}`
    : `▼ down ${-cell.movement} ${levels} ${since}`;
}

function renderCell(comparison, principle, cell, workshops) {
  let level;
  if (!cell.on_agenda) {
    level = "Not on the agenda";
  } else if (!principle.has_levels) {
    level = cell.recorded ? "Discussed" : "Not recorded";
  } else if (cell.agreed_level !== null) {
    level = `${cell.agreed_level_name} (${cell.agreed_level})`;
  } else {
    level = cell.recorded ? "Recorded without a level" : "Not recorded";
  }
  const workshop = workshops.get(cell.workshop_id);
  const previous = workshop.previous ? workshops.get(workshop.previous) : null;
  const movement = movementText(cell, previous);
  const [first, second] = comparison.comparison;
  return element("td", { dataset: { workshop: cell.workshop_id } }, [
    element("strong", { text: level }),
    cell.aspect_mean !== null
      ? element("span", { className: "compare-movement", text: `Mean of aspects: ${formatNumber(cell.aspect_mean)}` })
      : null,
    movement ? element("span", { className: "compare-movement", text: movement }) : null,
    cell.gap !== null
      ? element("span", {
          className: "compare-gap",
          text: `Gap ${first} − ${second}: ${cell.gap > 0 ? "+" : ""}${formatNumber(cell.gap)}`,
        })
      : null,
  ]);
}

function render(comparison) {
  const workshops = new Map(comparison.workshops.map((workshop) => [workshop.id, workshop]));
  const table = element("table", { className: "compare-table" }, [
    element("caption", { className: "visually-hidden", text: "Agreed level per principle and workshop" }),
    element("thead", {}, [
      element("tr", {}, [
        element("th", { scope: "col", text: "Principle" }),
        ...comparison.workshops.map((workshop) => element("th", { scope: "col", text: workshopLabel(workshop) })),
      ]),
    ]),
    element(
      "tbody",
      {},
      comparison.principles.map((principle) =>
        element("tr", { dataset: { principle: principle.principle_id } }, [
          element("th", { scope: "row", text: `${principle.number}. ${principle.title}` }),
          ...principle.cells.map((cell) => renderCell(comparison, principle, cell, workshops)),
        ]),
      ),
    ),
  ]);
  const [first, second] = comparison.comparison;
  const gaps = comparison.largest_gaps.map((entry) =>
    element("li", {
      text:
        `${entry.number}. ${entry.title}, in ${workshopLabel(workshops.get(entry.workshop_id))}: ` +
        `${first} median minus ${second} median is ${entry.gap > 0 ? "+" : ""}${formatNumber(entry.gap)} levels`,
    }),
  );
  byId("comparison").replaceChildren(
    element("section", { className: "report-section", "aria-labelledby": "compare-heading" }, [
      element("h2", { id: "compare-heading", text: `${comparison.rubric_title}: agreed levels` }),
      element("p", {
        className: "hint",
        text:
          "Movement compares a workshop with the previous workshop of the same scope and unit in this comparison. " +
          "Gaps are from each principle's last revealed round.",
      }),
      table,
    ]),
    element("section", { className: "report-section", "aria-labelledby": "gaps-heading" }, [
      element("h2", { id: "gaps-heading", text: `Where ${first} and ${second} disagreed most` }),
      gaps.length > 0
        ? element("ol", { className: "largest-gaps" }, gaps)
        : element("p", { text: "No revealed round showed a gap between the two groups." }),
    ]),
  );
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  showError("");
  let request;
  try {
    request = readForm();
  } catch (error) {
    showError(error.message);
    linksInput.focus();
    return;
  }
  announce(statusElement, "Comparing…");
  let response;
  try {
    response = await fetchComparison(request, "json");
  } catch (error) {
    announce(statusElement, "");
    showError(`Comparing failed: ${error.message}. Check the connection and try again.`);
    return;
  }
  if (!response.ok) {
    announce(statusElement, "");
    showError(await errorDetail(response, "Comparing the workshops"));
    return;
  }
  render(await response.json());
  lastRequest = request;
  csvButton.disabled = false;
  announce(statusElement, `Compared ${request.ids.length} workshops.`);
});

csvButton.addEventListener("click", async () => {
  if (!lastRequest) {
    return;
  }
  showError("");
  let response;
  try {
    response = await fetchComparison(lastRequest, "csv");
  } catch (error) {
    showError(`Downloading the CSV failed: ${error.message}.`);
    return;
  }
  if (!response.ok) {
    showError(await errorDetail(response, "Downloading the CSV"));
    return;
  }
  const url = URL.createObjectURL(await response.blob());
  const link = element("a", { href: url, download: "comparison.csv", hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  // Revoking at once can cancel the download in some browsers, so wait a little.
  setTimeout(() => URL.revokeObjectURL(url), 30_000);
  announce(statusElement, "Downloaded comparison.csv.");
});

/** Adds a facilitator link for every workshop whose token the console stored in this browser. */
byId("add-stored").addEventListener("click", () => {
  const prefix = tokenStorageKey("");
  const present = new Set(linksInput.value.split("\n").map((line) => line.trim()));
  const added = [];
  try {
    for (let index = 0; index < localStorage.length; index += 1) {
      const key = localStorage.key(index);
      if (key && key.startsWith(prefix)) {
        const workshopId = key.slice(prefix.length);
        const link = `${location.origin}/console/${encodeURIComponent(workshopId)}#token=${localStorage.getItem(key)}`;
        if (!present.has(link)) {
          added.push(link);
        }
      }
    }
  } catch (error) {
    showError(`Reading this browser's stored links failed: ${error.message}.`);
    return;
  }
  const lines = linksInput.value.trim() ? [linksInput.value.trim(), ...added] : added;
  linksInput.value = lines.join("\n");
  announce(
    statusElement,
    added.length === 0 ? "This browser has no other stored facilitator links." : `Added ${added.length} links.`,
  );
});
