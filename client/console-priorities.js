// The console's priority form: marks the principle on screen as a priority with a
// target level, actions and an owner on each side, and lists the priorities so far.

import { announce, element } from "./dom.js";

const byId = (id) => document.getElementById(id);

/**
 * Wires up the priority form and returns a function that renders it from a room view.
 * `runCommand(message)` sends a command and resolves to whether it was stored.
 */
export function setUpPriorityForm(runCommand) {
  const form = byId("priority-form");
  const target = byId("priority-target");
  const actions = byId("priority-actions");
  const staffOwner = byId("priority-staff-owner");
  const studentOwner = byId("priority-student-owner");
  const saveButton = byId("priority-save");
  const clearButton = byId("priority-clear");
  const status = byId("priority-status");
  let view = null;
  /** The principle the form shows, and whether it was edited since it was filled. */
  let formItem = null;
  let edited = false;

  function currentEntry(room) {
    return room.current ? room.agenda.find((entry) => entry.principle_id === room.current.id) : undefined;
  }

  function defaultTarget(room, entry) {
    if (!entry.has_levels || entry.agreed_level === null || entry.agreed_level >= room.levels.length) {
      return "";
    }
    return String(entry.agreed_level + 1);
  }

  function renderSummary(room) {
    const chosen = room.agenda.filter((entry) => entry.priority);
    const summary = byId("priority-list");
    if (chosen.length === 0) {
      summary.replaceChildren(element("p", { className: "hint", text: "No priorities yet." }));
      return;
    }
    summary.replaceChildren(
      element("p", { text: `Priorities so far (${chosen.length}):` }),
      element(
        "ul",
        {},
        chosen.map((entry) => {
          const level = entry.priority.target_level;
          const goal = level ? `target ${room.levels[level - 1]}` : "no target level";
          return element("li", { text: `${entry.number}. ${entry.title}: ${goal}` });
        }),
      ),
    );
  }

  function render(room) {
    view = room;
    const entry = currentEntry(room);
    renderSummary(room);
    if (target.options.length !== room.levels.length + 1) {
      target.replaceChildren(
        element("option", { value: "", text: "No target level" }),
        ...room.levels.map((name, index) => element("option", { value: String(index + 1), text: name })),
      );
    }
    const heading = byId("priority-item");
    heading.textContent = entry
      ? `Principle ${entry.number}: ${entry.title}${entry.priority ? " is a priority." : " is not a priority yet."}`
      : "Show an item first.";
    for (const control of [target, actions, staffOwner, studentOwner, saveButton]) {
      control.disabled = !entry;
    }
    target.disabled = !entry || !entry.has_levels;
    clearButton.disabled = !entry || !entry.priority;
    saveButton.textContent = entry && entry.priority ? "Save priority" : "Mark as priority";

    const itemId = entry ? entry.principle_id : null;
    if (itemId !== formItem || !edited) {
      const priority = entry ? entry.priority : null;
      let targetValue = "";
      if (priority) {
        targetValue = priority.target_level ? String(priority.target_level) : "";
      } else if (entry) {
        targetValue = defaultTarget(room, entry);
      }
      const values = [
        [target, targetValue],
        [actions, priority ? priority.actions : ""],
        [staffOwner, priority ? priority.staff_owner : ""],
        [studentOwner, priority ? priority.student_owner : ""],
      ];
      // Assigning an unchanged value would still move the caret, so only changes are written.
      for (const [control, value] of values) {
        if (control.value !== value) {
          control.value = value;
        }
      }
      if (itemId !== formItem) {
        status.textContent = "";
      }
      formItem = itemId;
      edited = false;
    }
  }

  for (const control of [target, actions, staffOwner, studentOwner]) {
    control.addEventListener("input", () => {
      edited = true;
      status.textContent = "Not saved yet.";
    });
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const entry = view && currentEntry(view);
    if (!entry) {
      return;
    }
    status.textContent = "Saving…";
    const saved = await runCommand({
      type: "set_priority",
      item: entry.principle_id,
      target_level: target.value === "" || target.disabled ? null : Number(target.value),
      actions: actions.value,
      staff_owner: staffOwner.value,
      student_owner: studentOwner.value,
    });
    if (saved) {
      edited = false;
      announce(status, "Saved.");
    } else {
      status.textContent = "Not saved: see the error at the top of the page.";
    }
  });

  clearButton.addEventListener("click", async () => {
    const entry = view && currentEntry(view);
    if (!entry || !entry.priority) {
      return;
    }
    const cleared = await runCommand({ type: "clear_priority", item: entry.principle_id });
    if (cleared) {
      edited = false;
      announce(status, "Removed from the priorities.");
    }
  });

  return render;
}
