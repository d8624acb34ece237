// DOM helpers shared by every page. Text always goes in through textContent or
// text nodes, never through HTML parsing, so titles, notes and rubric text from
// users or the server cannot inject markup.

/**
 * Creates an element.
 *
 * `options` keys: `className`, `text` (textContent), `dataset` (an object), `on<event>`
 * (a listener, e.g. `onclick`); any other key becomes an attribute, skipped when its
 * value is null, undefined or false and set empty when it is true. `children` may mix
 * nodes and strings (appended as text nodes); null and false entries are skipped.
 */
export function element(tag, options = {}, children = []) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(options)) {
    if (value === undefined || value === null || value === false) {
      continue;
    }
    if (name === "className") {
      node.className = value;
    } else if (name === "text") {
      node.textContent = String(value);
    } else if (name === "dataset") {
      Object.assign(node.dataset, value);
    } else if (name.startsWith("on") && typeof value === "function") {
      node.addEventListener(name.slice(2), value);
    } else {
      node.setAttribute(name, value === true ? "" : String(value));
    }
  }
  for (const child of children) {
    if (child !== null && child !== undefined && child !== false) {
      node.append(child);
    }
  }
  return node;
}

/**
 * Splits text at blank lines into <p> elements; single line breaks stay in the
 * text and show through the `keep-lines` class (white-space: pre-line).
 */
export function paragraphs(text, className = "keep-lines") {
  return text
    .split(/\n\s*\n/)
    .map((part) => part.trim())
    .filter((part) => part.length > 0)
    .map((part) => element("p", { className, text: part }));
}

/**
 * Replaces the children of `container`, then moves focus to the new element with
 * the `data-focus-key` of the element that had focus. Re-rendering from a fresh
 * view then does not throw a keyboard user back to the top of the page.
 */
export function replaceChildrenKeepingFocus(container, children) {
  const active = document.activeElement;
  const focusKey =
    active && container.contains(active) ? active.dataset.focusKey : undefined;
  container.replaceChildren(...children.filter(Boolean));
  if (focusKey !== undefined) {
    const match = container.querySelector(`[data-focus-key="${CSS.escape(focusKey)}"]`);
    if (match) {
      match.focus({ preventScroll: true });
    }
  }
}

const pendingAnnouncements = new WeakMap();

/** Sets a live region's text, clearing it first so repeating a message is announced again. */
export function announce(region, text) {
  region.textContent = "";
  clearTimeout(pendingAnnouncements.get(region));
  if (text) {
    // Setting the text a moment after clearing it makes screen readers announce
    // even a message identical to the last one.
    pendingAnnouncements.set(
      region,
      setTimeout(() => {
        region.textContent = text;
      }, 50),
    );
  }
}

/** Returns the message of a JSON error body ({"detail": ...}), or a fallback naming the HTTP status. */
export async function errorDetail(response, action) {
  let detail = "";
  try {
    const body = await response.json();
    if (typeof body.detail === "string") {
      detail = body.detail;
    }
    if (Array.isArray(body.extra)) {
      const extras = body.extra
        .map((entry) => (entry && entry.message ? [entry.key, entry.message].filter(Boolean).join(": ") : ""))
        .filter(Boolean);
      if (extras.length > 0) {
        detail = [detail, ...extras].filter(Boolean).join(" ");
      }
    }
  } catch {
    // The body was not JSON; fall back to the status below.
  }
  if (detail) {
    return detail;
  }
  const status = [response.status, response.statusText].filter(Boolean).join(" ");
  return `${action} failed (HTTP ${status}).`;
}
