// Rendering of rounds and their results, shared by the projector, console and phone.
//
// Every function takes a room view (or the parts of it named below) and returns DOM
// nodes. Numbers are always written out next to the bars, and each role has a
// pattern as well as a colour, so nothing depends on colour alone.

import { element } from "./dom.js";

const NUMBER_WORDS = [
  "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
  "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
  "seventeen", "eighteen", "nineteen",
];

/** Below this Tastle–Wierman consensus the room is called widely split. */
// NOTE: 0.5 is a judgment call, not a published cut-off; with five levels a room
// split evenly between two adjacent levels scores about 0.81.
const WIDE_SPLIT_BELOW = 0.5;

/** Returns the role's display name, or its id when the view does not list it. */
export function roleName(view, roleId) {
  const role = view.roles.find((candidate) => candidate.id === roleId);
  return role ? role.name : roleId;
}

/** Returns the index of a role in the view, used to pick its colour and pattern class. */
function roleIndex(view, roleId) {
  return Math.max(0, view.roles.findIndex((candidate) => candidate.id === roleId));
}

/**
 * Returns how a role's members are named mid-sentence: "staff", "students".
 *
 * The rubric's `plural` is used when it gives one. Otherwise "s" is added unless
 * the name ends in "s" or "staff".
 */
export function groupName(view, roleId, count = 2) {
  const role = view.roles.find((candidate) => candidate.id === roleId);
  let name = count !== 1 && role?.plural ? role.plural : roleName(view, roleId);
  // Lower-case the first letter unless the name starts with an acronym ("NUS officer").
  if (!/^[A-Z]{2}/.test(name)) {
    name = name.charAt(0).toLowerCase() + name.slice(1);
  }
  if (count === 1 || role?.plural || /staff$/i.test(name) || /s$/i.test(name)) {
    return name;
  }
  return `${name}s`;
}

function capitalise(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function numberInWords(value) {
  return Number.isInteger(value) && value >= 0 && value < NUMBER_WORDS.length
    ? NUMBER_WORDS[value]
    : String(value);
}

/** Returns a median as level words: "Developed", or "between Developing and Developed" for x.5. */
export function describeMedian(median, levels) {
  if (median === null || median === undefined) {
    return "no level";
  }
  if (Number.isInteger(median)) {
    return levels[median - 1] ?? `level ${median}`;
  }
  const lower = Math.floor(median);
  return `between ${levels[lower - 1]} and ${levels[lower]}`;
}

/** Returns where a median places the item: "at Developed", or "between Developing and Developed". */
function describePlacement(median, levels) {
  const words = describeMedian(median, levels);
  return Number.isInteger(median) ? `at ${words}` : words;
}

/** Returns a number of levels in words: "one level", "half a level", "two and a half levels". */
export function describeLevelDistance(distance) {
  const whole = Math.floor(distance);
  const half = distance - whole >= 0.5;
  if (whole === 0) {
    return half ? "half a level" : "no levels";
  }
  const unit = whole === 1 && !half ? "level" : "levels";
  return `${numberInWords(whole)}${half ? " and a half" : ""} ${unit}`;
}

/**
 * Returns the sentence comparing the two comparison roles' medians, e.g.
 * "Staff place this at Developed; students at Developing: one level apart." or
 * "Staff place this between Developed and Refining; students at Developing: ...".
 */
export function describeGap(result, view) {
  const [firstId, secondId] = view.comparison;
  const first = groupName(view, firstId);
  const second = groupName(view, secondId);
  if (result.hidden_roles.length > 0) {
    const names = hiddenGroupNames(result, view);
    return `No gap between ${first} and ${second} is shown, because the split for ${names} is hidden.`;
  }

  const firstResult = result.roles[firstId];
  const secondResult = result.roles[secondId];
  const missing = [firstId, secondId].filter((roleId) => {
    const distribution = result.roles[roleId];
    return !distribution || distribution.median === null;
  });
  if (missing.length > 0 || result.gap === null) {
    const names = missing.map((roleId) => groupName(view, roleId)).join(" or ");
    return `No gap can be given: no ${names || "one"} chose a level.`;
  }

  const firstPlacement = describePlacement(firstResult.median, view.levels);
  const secondPlacement = describePlacement(secondResult.median, view.levels);
  if (result.gap === 0) {
    return `${capitalise(first)} and ${second} both place this ${firstPlacement}: no gap.`;
  }
  return (
    `${capitalise(first)} place this ${firstPlacement}; ${second} ${secondPlacement}: ` +
    `${describeLevelDistance(Math.abs(result.gap))} apart.`
  );
}

/** Returns the live "N voted" counts of a round, one item per role. */
export function renderVotedCounts(round, view) {
  const list = element("ul", { className: "voted-counts", "aria-label": "Votes so far" });
  for (const entry of round.voted) {
    list.append(
      element("li", { className: `voted role-${roleIndex(view, entry.role)}` }, [
        element("span", { className: "voted-number", text: entry.count }),
        " ",
        element("span", {
          className: "voted-label",
          text: `${groupName(view, entry.role, entry.count)} voted`,
        }),
      ]),
    );
  }
  return list;
}

/** Returns the "median" tag that marks a bar, or the gap between two bars, in words and shape. */
function medianTag() {
  return element("span", { className: "median-tag", text: "median" });
}

/**
 * Returns one distribution as a labelled list of bars.
 *
 * Bar lengths are shares of the group's voters who chose a level, so groups of
 * different sizes compare fairly. Each bar is labelled with its count and share.
 * The median's bar is outlined and tagged "median". A median between two levels
 * is a tagged dashed line between their bars.
 */
function renderDistribution(distribution, view, { heading, className }) {
  const chose = distribution.counts.reduce((sum, count) => sum + count, 0);
  const median = distribution.median;
  const bars = element("ol", { className: "bars" });
  distribution.counts.forEach((count, index) => {
    const level = index + 1;
    const share = chose > 0 ? count / chose : 0;
    const fill = element("span", { className: "bar-fill" });
    // A Content-Security-Policy without 'unsafe-inline' blocks style attributes in
    // markup but allows CSSOM writes like this one (checked in Chromium).
    fill.style.inlineSize = `${(share * 100).toFixed(1)}%`;
    const isMedian = median === level;
    bars.append(
      element("li", { className: isMedian ? "bar is-median" : "bar" }, [
        element("span", { className: "bar-level" }, [
          view.levels[index],
          isMedian ? " " : null,
          isMedian ? medianTag() : null,
        ]),
        element("span", { className: "bar-track", "aria-hidden": "true" }, [fill]),
        element("span", {
          className: "bar-count",
          text: chose > 0 ? `${count} (${Math.round(share * 100)}%)` : String(count),
        }),
      ]),
    );
    if (median !== null && median === level + 0.5) {
      bars.append(
        element("li", { className: "median-between" }, [
          medianTag(),
          element("span", {
            className: "visually-hidden",
            text: ` between ${view.levels[index]} and ${view.levels[index + 1]}`,
          }),
        ]),
      );
    }
  });

  return element("figure", { className: `distribution ${className}` }, [
    element("figcaption", {}, [
      element("span", { className: "distribution-name", text: heading }),
      " ",
      element("span", {
        className: "distribution-total",
        text: `${distribution.voters} voted`,
      }),
    ]),
    bars,
    element("p", { className: "distribution-median" }, [
      "Median: ",
      element("strong", { text: describeMedian(distribution.median, view.levels) }),
    ]),
    element("p", { className: "distribution-not-sure", text: `Not sure: ${distribution.not_sure}` }),
  ]);
}

/** Returns the hidden roles as words: "staff", or "staff and students". */
function hiddenGroupNames(result, view) {
  return result.hidden_roles.map((roleId) => groupName(view, roleId)).join(" and ");
}

function renderHiddenRole(roleId, view) {
  return element("section", { className: `distribution hidden-role role-${roleIndex(view, roleId)}` }, [
    element("h3", { className: "distribution-name", text: capitalise(groupName(view, roleId)) }),
    element("p", {
      text:
        `Fewer than ${view.small_group_threshold} ${groupName(view, roleId)} chose a level, ` +
        "so their split is hidden; they are counted in the room total.",
    }),
  ]);
}

/**
 * Returns the note for a role big enough to show but withheld anyway: with two
 * roles, the room total minus its split would give the hidden role's split away.
 */
function renderWithheldRole(roleId, result, view) {
  return element("section", { className: `distribution hidden-role role-${roleIndex(view, roleId)}` }, [
    element("h3", { className: "distribution-name", text: capitalise(groupName(view, roleId)) }),
    element("p", {
      text:
        "Their split is withheld too, because the room total minus it would give away " +
        `how the ${hiddenGroupNames(result, view)} voted.`,
    }),
  ]);
}

function renderConsensus(result, compact) {
  if (result.consensus === null) {
    return element("p", { className: "consensus", text: "No consensus figure: nobody chose a level." });
  }
  const percent = Math.round(result.consensus * 100);
  return element("p", { className: "consensus" }, [
    element("strong", { className: "consensus-value", text: `${percent}%` }),
    " consensus (Tastle–Wierman)",
    compact
      ? null
      : element("span", {
          className: "hint",
          text: ": 100% when everyone chose the same level, 0% when the room splits between the two extremes.",
        }),
  ]);
}

/** Returns plain call-outs for a tied or widely split result, or an empty list. */
function describeCallouts(result, view) {
  const callouts = [];
  const roomMedian = result.room.median;
  if (roomMedian !== null && !Number.isInteger(roomMedian)) {
    callouts.push(`The room's median falls ${describeMedian(roomMedian, view.levels)}.`);
  }
  if (result.consensus !== null && result.consensus < WIDE_SPLIT_BELOW) {
    callouts.push("Views in the room are widely spread.");
  }
  if (result.gap !== null && Math.abs(result.gap) >= 2) {
    callouts.push(
      `${capitalise(groupName(view, view.comparison[0]))} and ${groupName(view, view.comparison[1])} ` +
        `are ${describeLevelDistance(Math.abs(result.gap))} apart: a wide gap.`,
    );
  }
  return callouts;
}

/**
 * Returns the results of a revealed round: the gap sentence, per-role distributions
 * side by side (or why a role's split is hidden), the room total and consensus.
 *
 * With `compact` the hint on how to read consensus is left out; the layout itself
 * is left to CSS.
 */
export function renderResult(result, view, { compact = false } = {}) {
  const section = element("section", { className: "result" });
  section.append(element("p", { className: "gap", text: describeGap(result, view) }));
  for (const callout of describeCallouts(result, view)) {
    section.append(element("p", { className: "callout", text: callout }));
  }

  const panels = element("div", { className: "distributions" });
  for (const role of view.roles) {
    const distribution = result.roles[role.id];
    if (result.hidden_roles.includes(role.id)) {
      panels.append(renderHiddenRole(role.id, view));
    } else if (result.hidden_roles.length > 0) {
      // The server withholds every split once any role is hidden.
      panels.append(renderWithheldRole(role.id, result, view));
    } else if (distribution && (distribution.voters > 0 || view.comparison.includes(role.id))) {
      panels.append(
        renderDistribution(distribution, view, {
          heading: capitalise(groupName(view, role.id)),
          className: `role-${roleIndex(view, role.id)}`,
        }),
      );
    }
  }
  // Hidden roles' votes appear only in the room total, so its bars are shown then.
  if (result.hidden_roles.length > 0) {
    panels.append(renderDistribution(result.room, view, { heading: "Whole room", className: "room" }));
  }
  section.append(panels);

  section.append(
    element("p", { className: "room-total" }, [
      element("strong", { text: "Whole room: " }),
      `${result.room.voters} voted, ${result.room.not_sure} not sure; median `,
      element("strong", { text: describeMedian(result.room.median, view.levels) }),
      ".",
    ]),
  );
  section.append(renderConsensus(result, compact));
  return section;
}

/**
 * Returns what was recorded for an agenda entry (the agreed level and notes), or
 * null when nothing is recorded.
 */
export function renderAgreement(entry, view) {
  if (!entry || !entry.recorded) {
    return null;
  }
  const children = [element("h3", { text: "Agreed by the room" })];
  if (entry.has_levels) {
    children.push(
      element("p", { className: "agreed-level" }, [
        entry.agreed_level === null
          ? "No level agreed"
          : element("strong", { text: view.levels[entry.agreed_level - 1] ?? `Level ${entry.agreed_level}` }),
      ]),
    );
  }
  if (entry.notes.trim() !== "") {
    children.push(renderNotes(entry.notes));
  }
  return element("section", { className: "agreement", "aria-label": "Agreed by the room" }, children);
}

/**
 * Returns notes as one paragraph per blank-line-separated part, each with
 * `dir="auto"` so a right-to-left paragraph (Arabic, Hebrew) reads from the right
 * even among left-to-right ones. Spaces and single line breaks are kept as typed.
 */
export function renderNotes(notes) {
  const parts = notes
    .split(/\n[ \t]*\n/)
    .map((part) => part.replace(/^\n+|\n+$/g, ""))
    .filter((part) => part.trim() !== "");
  return element(
    "div",
    { className: "notes" },
    parts.map((part) => element("p", { className: "notes-paragraph", dir: "auto", text: part })),
  );
}

/**
 * Returns the principle's row of the rubric grid, one cell per level, with the
 * agreed level's cell marked by a thick outline, a hatched background and the
 * words "Agreed by the room", so the mark does not depend on colour.
 */
export function renderAgreedRow(principle, entry, levels) {
  const row = element("ol", { className: "rubric-row", "aria-label": "Rubric levels, agreed level marked" });
  principle.descriptors.forEach((descriptor, index) => {
    const agreed = entry.agreed_level === index + 1;
    const className = `rubric-cell level-${index + 1}${agreed ? " is-agreed" : ""}`;
    row.append(
      element("li", { className, "aria-current": agreed ? "true" : null }, [
        agreed ? element("p", { className: "agreed-tag", text: "✓ Agreed by the room" }) : null,
        element("h3", { className: "rubric-level", text: levels[index] ?? `Level ${index + 1}` }),
        element("p", { className: "rubric-descriptor", text: descriptor }),
      ]),
    );
  });
  return row;
}

/** Returns the agenda entry of the item on screen, or undefined. */
export function currentAgendaEntry(view) {
  if (!view.current) {
    return undefined;
  }
  return view.agenda.find((entry) => entry.principle_id === view.current.id);
}

/** Returns the latest round of the item on screen, or null. */
export function latestRound(view) {
  return view.rounds.length > 0 ? view.rounds[view.rounds.length - 1] : null;
}
