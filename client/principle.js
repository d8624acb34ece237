// Rendering of the principle on screen: its title, statement, level descriptors
// and, for a discussion item, its description.

import { element, paragraphs } from "./dom.js";

/**
 * Returns the principle's number, title, aspect (when one aspect is on screen) and
 * statement, with the title at `headingLevel`.
 */
export function renderPrincipleHeading(principle, headingLevel = 2) {
  return element("header", { className: "principle-heading" }, [
    element("p", {
      className: "principle-number",
      text: principle.has_levels
        ? `Principle ${principle.number}`
        : `Principle ${principle.number}: discussion item, no vote`,
    }),
    element(`h${headingLevel}`, { className: "principle-title", text: principle.title }),
    // A round on one aspect names the aspect, so voters do not place the whole principle.
    principle.aspect
      ? element("p", { className: "principle-aspect", text: `Aspect: ${principle.aspect.title}` })
      : null,
    element("p", { className: "principle-statement", text: principle.statement }),
  ]);
}

/** Returns the levels and their descriptors as a read-only grid, lowest level first. */
export function renderDescriptors(principle, levels, headingLevel = 3) {
  const list = element("ol", { className: "descriptors", "aria-label": "Levels" });
  principle.descriptors.forEach((descriptor, index) => {
    list.append(
      element("li", { className: `descriptor level-${index + 1}` }, [
        element(`h${headingLevel}`, {
          className: "descriptor-level",
          text: levels[index] ?? `Level ${index + 1}`,
        }),
        element("p", { className: "descriptor-text", text: descriptor }),
      ]),
    );
  });
  return list;
}

/** Returns a discussion item's longer description as paragraphs. */
export function renderDescription(principle) {
  return element("div", { className: "principle-description" }, paragraphs(principle.description));
}
