// Aspects of practice in the facilitator console. A rubric may split a principle into
// aspects that the room places at a level one by one. The agenda then lists each
// aspect under its principle, and commands name it as "<principle>/<aspect>".

import { element } from "./dom.js";

/** Returns the id of the agenda item on screen: a principle id or "<principle>/<aspect>". */
export function currentItemId(room) {
  if (!room.current) {
    return null;
  }
  return room.current.item ?? room.current.id;
}

/**
 * Returns what is recorded for the item on screen: its agenda entry, or the aspect
 * entry within it. Both carry `recorded`, `agreed_level` and `notes`.
 */
export function currentItemEntry(room) {
  if (!room.current) {
    return undefined;
  }
  const entry = room.agenda.find((candidate) => candidate.principle_id === room.current.id);
  if (!entry || !room.current.aspect) {
    return entry;
  }
  return (entry.aspects ?? []).find((aspect) => aspect.id === room.current.aspect.id);
}

function aspectStatus(room, aspect) {
  const parts = [];
  if (aspect.agreed_level !== null) {
    parts.push(`✓ Agreed: ${room.levels[aspect.agreed_level - 1]}`);
  } else {
    parts.push(aspect.recorded ? "✓ Recorded, no level" : "Not recorded");
  }
  parts.push(aspect.rounds === 1 ? "1 round" : `${aspect.rounds} rounds`);
  return parts.join(" · ");
}

/**
 * Returns the list of a principle's aspects as agenda buttons (with `data-item`, so
 * the agenda's click handler shows them), or null when it has none. The mean of the
 * aspects' agreed levels is shown beside the principle's own agreed level.
 */
export function renderAspectList(room, entry) {
  const aspects = entry.aspects ?? [];
  if (aspects.length === 0) {
    return null;
  }
  const onScreen = currentItemId(room);
  const items = aspects.map((aspect) => {
    const isCurrent = onScreen === aspect.item;
    return element("li", { className: "agenda-aspect" }, [
      element(
        "button",
        {
          type: "button",
          className: "agenda-button",
          "aria-current": isCurrent ? "true" : null,
          dataset: { item: aspect.item, focusKey: `agenda-${aspect.item}` },
        },
        [
          element("span", { className: "agenda-title", text: `Aspect: ${aspect.title}` }),
          element("span", { className: "agenda-status", text: aspectStatus(room, aspect) }),
        ],
      ),
    ]);
  });
  const mean =
    entry.aspect_mean !== null && entry.aspect_mean !== undefined
      ? element("p", { className: "agenda-status aspect-mean", text: `Mean of aspects: ${entry.aspect_mean}` })
      : null;
  return element("div", { className: "agenda-aspects" }, [
    element("ol", { className: "agenda-list", "aria-label": `Aspects of principle ${entry.number}` }, items),
    mean,
  ]);
}
