// The printable report of one workshop: the rubric grid with the agreed cell of each
// principle marked, each principle's distributions, gap and notes, and the priorities.
// It renders the JSON export, fetched with the facilitator token in a header.

import { element, errorDetail, paragraphs } from "./dom.js";
import { parseToken, readPageToken, storeToken } from "./facilitator-token.js";

const workshopId = decodeURIComponent(location.pathname.split("/")[2] ?? "");
const byId = (id) => document.getElementById(id);
const reportElement = byId("report");
const statusElement = byId("report-status");
const printButton = byId("print-button");

function showError(message) {
  byId("report-error").replaceChildren(...(message ? [element("p", { text: message })] : []));
}

function formatDate(seconds) {
  return new Date(seconds * 1000).toLocaleDateString(undefined, {
    year: "numeric",
    month: "long",
    day: "numeric",
  });
}

function formatNumber(value) {
  return Number.isInteger(value) ? String(value) : value.toFixed(2).replace(/0$/, "");
}

function roleName(report, roleId) {
  return report.role_names[roleId] ?? roleId;
}

/** Returns "1 Student" or "3 Students": a count with the role's name in the right number. */
function people(report, roleId, count) {
  const plural = report.role_plurals?.[roleId] ?? roleName(report, roleId);
  return `${count} ${count === 1 ? roleName(report, roleId) : plural}`;
}

function pluralNames(report, roleIds) {
  return roleIds.map((role) => report.role_plurals?.[role] ?? roleName(report, role)).join(", ");
}

function levelLabel(report, level) {
  return level ? `${report.levels[level - 1]} (${level})` : "none";
}

/** Returns the last revealed round of an item or aspect: the result the room last saw. */
function finalRound(rounds) {
  const revealed = rounds.filter((round) => round.revealed);
  return revealed.length > 0 ? revealed[revealed.length - 1] : null;
}

// The grid ------------------------------------------------------------------------------

function gridCell(report, item, level, descriptor) {
  const agreed = item.agreed_level === level;
  const target = item.priority !== null && item.priority.target_level === level;
  const classes = ["grid-cell"];
  const marks = [];
  if (agreed) {
    classes.push("is-agreed");
    marks.push(element("strong", { className: "cell-mark mark-agreed", text: "✓ Agreed" }));
  }
  if (target) {
    classes.push("is-target");
    marks.push(element("strong", { className: "cell-mark mark-target", text: "◎ Target" }));
  }
  return element("td", { className: classes.join(" "), dataset: { level: String(level) } }, [
    ...marks,
    element("span", { className: "grid-descriptor", text: descriptor }),
  ]);
}

function renderGrid(report) {
  const head = element("thead", {}, [
    element("tr", {}, [
      element("th", { scope: "col", text: "Principle" }),
      ...report.levels.map((name, index) =>
        element("th", { scope: "col", text: `${index + 1}. ${name}` }),
      ),
    ]),
  ]);
  const rows = report.items.map((item) => {
    const heading = element("th", { scope: "row", className: "grid-principle" }, [
      element("span", { className: "grid-number", text: `${item.number}.` }),
      " ",
      item.title,
      item.aspect_mean !== null
        ? element("span", {
            className: "grid-aspect-mean",
            text: `Mean of aspects: ${formatNumber(item.aspect_mean)}`,
          })
        : null,
    ]);
    if (!item.has_levels) {
      return element("tr", { className: "grid-row is-discussion", dataset: { principle: item.principle_id } }, [
        heading,
        element("td", { colspan: String(report.levels.length), className: "grid-cell" }, [
          element("strong", { className: "cell-mark", text: "Discussion item, not levelled" }),
          element("span", { className: "grid-descriptor", text: item.statement }),
        ]),
      ]);
    }
    return element("tr", { className: "grid-row", dataset: { principle: item.principle_id } }, [
      heading,
      ...item.descriptors.map((descriptor, index) => gridCell(report, item, index + 1, descriptor)),
    ]);
  });
  return element("section", { className: "report-section", "aria-labelledby": "grid-heading" }, [
    element("h2", { id: "grid-heading", text: "Benchmarking grid" }),
    element("p", {
      className: "hint",
      text: "Each principle's agreed level is marked ✓ Agreed; the target level of a priority is marked ◎ Target.",
    }),
    element("table", { className: "report-grid" }, [head, element("tbody", {}, rows)]),
  ]);
}

// Distributions ----------------------------------------------------------------------------

function distributionRow(report, label, distribution) {
  return element("tr", {}, [
    element("th", { scope: "row", text: label }),
    ...distribution.counts.map((count) => element("td", { text: String(count) })),
    element("td", { text: String(distribution.not_sure) }),
    element("td", { text: String(distribution.voters) }),
    element("td", { text: distribution.median === null ? "–" : formatNumber(distribution.median) }),
  ]);
}

function renderDistributions(report, round) {
  const rows = Object.entries(round.roles).map(([role, distribution]) =>
    distributionRow(report, roleName(report, role), distribution),
  );
  rows.push(distributionRow(report, "Whole room", round.room));
  const table = element("table", { className: "distribution-table" }, [
    element("caption", { text: `Round ${round.number}: votes per level` }),
    element("thead", {}, [
      element("tr", {}, [
        element("th", { scope: "col", text: "Group" }),
        ...report.levels.map((name) => element("th", { scope: "col", text: name })),
        element("th", { scope: "col", text: "Not sure" }),
        element("th", { scope: "col", text: "Voters" }),
        element("th", { scope: "col", text: "Median" }),
      ]),
    ]),
    element("tbody", {}, rows),
  ]);
  const facts = [];
  const [first, second] = report.comparison;
  if (round.gap !== null) {
    facts.push(
      `Gap (${roleName(report, first)} median minus ${roleName(report, second)} median): ` +
        `${round.gap > 0 ? "+" : ""}${formatNumber(round.gap)} levels.`,
    );
  }
  if (round.hidden_roles.length > 0) {
    const withheld = round.withheld_roles ?? [];
    facts.push(
      `Fewer than ${report.small_group_threshold} ${pluralNames(report, round.hidden_roles)} ` +
        "chose a level, so only the whole room's votes are shown" +
        (withheld.length > 0
          ? `: the split of ${pluralNames(report, withheld)} is withheld too, or it would give theirs away.`
          : "."),
    );
  }
  if (round.consensus !== null) {
    facts.push(`Consensus: ${Math.round(round.consensus * 100)}%.`);
  }
  return [table, ...facts.map((text) => element("p", { className: "round-facts", text }))];
}

function renderOutcome(report, entry, headingTag, title) {
  const final = finalRound(entry.rounds);
  const children = [element(headingTag, { text: title })];
  const facts = [];
  if (entry.agreed_level !== null) {
    facts.push(`Agreed level: ${levelLabel(report, entry.agreed_level)}.`);
  } else if (entry.recorded) {
    facts.push("Recorded without a level.");
  } else {
    facts.push("Not recorded.");
  }
  const revealed = entry.rounds.filter((round) => round.revealed).length;
  if (revealed > 1) {
    facts.push(`${revealed} rounds were revealed; the last is shown.`);
  }
  if (entry.aspect_mean !== undefined && entry.aspect_mean !== null) {
    facts.push(`Mean of the aspects' agreed levels: ${formatNumber(entry.aspect_mean)}.`);
  }
  children.push(element("p", { className: "outcome-facts", text: facts.join(" ") }));
  if (final !== null) {
    children.push(...renderDistributions(report, final));
  }
  if (entry.notes) {
    children.push(element("div", { className: "report-notes" }, paragraphs(entry.notes, "notes-paragraph")));
  }
  return children;
}

function renderResults(report) {
  const sections = report.items.map((item) => {
    const children = item.has_levels
      ? renderOutcome(report, item, "h3", `${item.number}. ${item.title}`)
      : [
          element("h3", { text: `${item.number}. ${item.title}` }),
          element("p", { className: "outcome-facts", text: "Discussion item, not levelled." }),
          item.notes
            ? element("div", { className: "report-notes" }, paragraphs(item.notes, "notes-paragraph"))
            : element("p", { text: "No notes recorded." }),
        ];
    for (const aspect of item.aspects) {
      children.push(
        element("section", { className: "report-aspect" }, renderOutcome(report, aspect, "h4", `Aspect: ${aspect.title}`)),
      );
    }
    return element("section", { className: "report-principle", dataset: { principle: item.principle_id } }, children);
  });
  return element("section", { className: "report-section", "aria-labelledby": "results-heading" }, [
    element("h2", { id: "results-heading", text: "Results and notes by principle" }),
    ...sections,
  ]);
}

// Priorities ----------------------------------------------------------------------------

function renderPriorities(report) {
  const chosen = report.items.filter((item) => item.priority !== null);
  const children = [element("h2", { id: "priorities-heading", text: "Priorities" })];
  if (chosen.length === 0) {
    children.push(element("p", { text: "No principle was marked as a priority." }));
  } else {
    children.push(
      element("table", { className: "priority-table" }, [
        element("thead", {}, [
          element("tr", {}, [
            element("th", { scope: "col", text: "Principle" }),
            element("th", { scope: "col", text: "Agreed level" }),
            element("th", { scope: "col", text: "Target level" }),
            element("th", { scope: "col", text: "Actions" }),
            element("th", { scope: "col", text: "Staff owner" }),
            element("th", { scope: "col", text: "Student owner" }),
          ]),
        ]),
        element(
          "tbody",
          {},
          chosen.map((item) =>
            element("tr", {}, [
              element("th", { scope: "row", text: `${item.number}. ${item.title}` }),
              element("td", { text: levelLabel(report, item.agreed_level) }),
              element("td", { text: levelLabel(report, item.priority.target_level) }),
              element("td", {}, paragraphs(item.priority.actions, "notes-paragraph")),
              element("td", { text: item.priority.staff_owner || "–" }),
              element("td", { text: item.priority.student_owner || "–" }),
            ]),
          ),
        ),
      ]),
    );
  }
  return element("section", { className: "report-section", "aria-labelledby": "priorities-heading" }, children);
}

// Page ----------------------------------------------------------------------------------

function render(report) {
  document.title = `${report.title} · Workshop report · Common Ground`;
  const participants = report.roles.map((entry) => people(report, entry.role, entry.count)).join(", ");
  const scope = report.scope.charAt(0).toUpperCase() + report.scope.slice(1);
  reportElement.replaceChildren(
    element("header", { className: "report-header" }, [
      element("p", { className: "brand", text: "Common Ground · Benchmarking workshop report" }),
      element("h1", { text: report.title }),
      element("p", { className: "lede", text: `${scope}: ${report.unit}` }),
      element("p", {
        className: "report-meta",
        text:
          `Rubric: ${report.rubric_title} (${report.rubric_source}). ` +
          `Workshop held ${formatDate(report.created_at)}; report made ${formatDate(report.exported_at)}. ` +
          `Participants: ${participants}.`,
      }),
    ]),
    renderGrid(report),
    renderPriorities(report),
    renderResults(report),
    element("p", {
      className: "hint report-footer",
      text:
        "Votes were secret: this report shows counts per level only. When fewer than " +
        `${report.small_group_threshold} people of a group chose a level in a round, that group ` +
        "is counted only in the whole room.",
    }),
  );
  reportElement.hidden = false;
  printButton.disabled = false;
}

async function load(token) {
  showError("");
  statusElement.textContent = "Loading the report…";
  let response;
  try {
    response = await fetch(`/api/workshops/${encodeURIComponent(workshopId)}/export.json`, {
      headers: { Authorization: `Bearer ${token}`, Accept: "application/json" },
    });
  } catch (error) {
    statusElement.textContent = "";
    showError(`Loading the report failed: ${error.message}. Check the connection and reload the page.`);
    return;
  }
  if (response.status === 401) {
    statusElement.textContent = "";
    showError("That facilitator link does not match this workshop.");
    askForToken();
    return;
  }
  if (!response.ok) {
    statusElement.textContent = "";
    showError(await errorDetail(response, "Loading the report"));
    return;
  }
  render(await response.json());
  statusElement.textContent = "";
  document.body.dataset.ready = "true";
}

function askForToken() {
  byId("token-missing").hidden = false;
  byId("token-input").focus();
}

byId("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const token = parseToken(byId("token-input").value);
  if (!token) {
    showError("That is not a facilitator link or token. Paste the whole link, including the part after #token=.");
    return;
  }
  storeToken(workshopId, token);
  byId("token-missing").hidden = true;
  load(token);
});

printButton.addEventListener("click", () => window.print());

if (!workshopId) {
  statusElement.textContent = "";
  showError("This page needs a workshop id in its address, as in /report/ID.");
} else {
  const token = readPageToken(workshopId);
  if (token) {
    load(token);
  } else {
    statusElement.textContent = "";
    askForToken();
  }
}
