// The "create a workshop" form: loads the rubrics, lets the facilitator pick and
// order the agenda, creates the workshop and opens its console.

import { element, errorDetail } from "./dom.js";

const DEFAULT_RUBRIC = "nus-academic-support";

const form = document.getElementById("create-form");
const rubricSelect = document.getElementById("rubric");
const agendaList = document.getElementById("agenda");
const errorRegion = document.getElementById("create-error");
const submitButton = document.getElementById("create-button");
const passwordField = document.getElementById("password-field");

let rubrics = [];

function showError(message) {
  errorRegion.replaceChildren(...(message ? [element("p", { text: message })] : []));
}

async function loadRubrics(selectId = null) {
  let response;
  try {
    response = await fetch("/api/rubrics", { headers: { Accept: "application/json" } });
  } catch (error) {
    showError(`Loading the rubrics failed: ${error.message}. Check the connection and reload the page.`);
    return;
  }
  if (!response.ok) {
    showError(await errorDetail(response, "Loading the rubrics"));
    return;
  }
  rubrics = await response.json();
  if (rubrics.length === 0) {
    showError("The server has no rubrics, so no workshop can be created. Add a rubric file and restart it.");
    return;
  }

  rubricSelect.replaceChildren(
    ...rubrics.map((rubric) => element("option", { value: rubric.id, text: rubric.title })),
  );
  const preferred =
    rubrics.find((rubric) => rubric.id === selectId) ??
    rubrics.find((rubric) => rubric.id === DEFAULT_RUBRIC) ??
    rubrics[0];
  rubricSelect.value = preferred.id;
  renderAgenda(preferred);
}

/** Shows the organiser password field when the server requires one (GET /api/config). */
async function loadConfig() {
  try {
    const response = await fetch("/api/config", { headers: { Accept: "application/json" } });
    if (response.ok) {
      const config = await response.json();
      passwordField.hidden = !config.organiser_password_required;
    }
  } catch (error) {
    // Without the config the form still works: a server that needs the password
    // rejects the submission with 401, and the field is shown then.
    console.warn("Loading /api/config failed:", error);
  }
}

function showPasswordField() {
  passwordField.hidden = false;
  const input = form.elements.password;
  input.setAttribute("aria-invalid", "true");
  input.focus();
}

function selectedRubric() {
  return rubrics.find((rubric) => rubric.id === rubricSelect.value);
}

/** Renders the rubric's principles as ticked checkboxes, in the rubric's order. */
function renderAgenda(rubric) {
  agendaList.replaceChildren(...rubric.principles.map((principle) => renderAgendaItem(principle)));
  updateMoveButtons();
}

function renderAgendaItem(principle) {
  const checkboxId = `agenda-${principle.id}`;
  const label = principle.has_levels
    ? `${principle.number}. ${principle.title}`
    : `${principle.number}. ${principle.title} (discussion item, no vote)`;
  return element("li", { className: "agenda-choice", dataset: { principle: principle.id } }, [
    element("input", { type: "checkbox", id: checkboxId, checked: true, value: principle.id }),
    element("label", { for: checkboxId, text: label }),
    element("span", { className: "move-buttons" }, [
      element("button", {
        type: "button",
        className: "button button-small",
        dataset: { move: "up" },
        "aria-label": `Move principle ${principle.number} up`,
        text: "↑",
      }),
      element("button", {
        type: "button",
        className: "button button-small",
        dataset: { move: "down" },
        "aria-label": `Move principle ${principle.number} down`,
        text: "↓",
      }),
    ]),
  ]);
}

/** Disables "up" on the first item and "down" on the last. */
function updateMoveButtons() {
  const items = [...agendaList.children];
  items.forEach((item, index) => {
    item.querySelector('[data-move="up"]').disabled = index === 0;
    item.querySelector('[data-move="down"]').disabled = index === items.length - 1;
  });
}

agendaList.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-move]");
  if (!button) {
    return;
  }
  const item = button.closest("li");
  const direction = button.dataset.move;
  if (direction === "up" && item.previousElementSibling) {
    item.previousElementSibling.before(item);
  } else if (direction === "down" && item.nextElementSibling) {
    item.nextElementSibling.after(item);
  }
  updateMoveButtons();
  // Keep focus on the same arrow, or on the other one when this end is reached.
  const target = button.disabled ? item.querySelector(`[data-move]:not([disabled])`) : button;
  target?.focus();
});

rubricSelect.addEventListener("change", () => {
  const rubric = selectedRubric();
  if (rubric) {
    renderAgenda(rubric);
  }
});

/** Returns the request body, or throws an Error naming the first field to fix. */
function readForm() {
  const title = form.elements.title.value.trim();
  const unit = form.elements.unit.value.trim();
  const threshold = Number(form.elements.small_group_threshold.value);
  const agenda = [...agendaList.querySelectorAll('input[type="checkbox"]')]
    .filter((checkbox) => checkbox.checked)
    .map((checkbox) => checkbox.value);

  if (!title) {
    throw new FieldError("title", "Enter a workshop title.");
  }
  if (!unit) {
    throw new FieldError("unit", "Enter the name of the course, department, faculty or institution.");
  }
  if (!selectedRubric()) {
    throw new FieldError("rubric", "Choose a rubric.");
  }
  if (agenda.length === 0) {
    throw new FieldError(null, "Tick at least one principle for the agenda.");
  }
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > 100) {
    throw new FieldError("small_group_threshold", "The small-group threshold must be a whole number from 1 to 100.");
  }
  if (!passwordField.hidden && form.elements.password.value === "") {
    throw new FieldError("password", "Enter the organiser password.");
  }
  return {
    title,
    scope: form.elements.scope.value,
    unit,
    rubric: rubricSelect.value,
    agenda,
    small_group_threshold: threshold,
  };
}

class FieldError extends Error {
  constructor(field, message) {
    super(message);
    this.field = field;
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  showError("");
  for (const control of form.querySelectorAll("[aria-invalid]")) {
    control.removeAttribute("aria-invalid");
  }

  let body;
  try {
    body = readForm();
  } catch (error) {
    if (!(error instanceof FieldError)) {
      throw error;
    }
    showError(error.message);
    if (error.field) {
      const control = form.elements[error.field];
      control.setAttribute("aria-invalid", "true");
      control.focus();
    }
    return;
  }

  submitButton.disabled = true;
  submitButton.textContent = "Creating…";
  try {
    const headers = { "Content-Type": "application/json", Accept: "application/json" };
    if (!passwordField.hidden) {
      headers.Authorization = `Bearer ${form.elements.password.value}`;
    }
    const response = await fetch("/api/workshops", {
      method: "POST",
      headers,
      body: JSON.stringify(body),
    });
    if (response.status === 201) {
      const created = await response.json();
      location.assign(created.facilitator_url);
      return;
    }
    if (response.status === 401) {
      // The server's message is written for API clients because it names the
      // header, so the form shows its own instruction.
      showError("The organiser password is missing or wrong. Enter it and try again.");
      showPasswordField();
    } else {
      showError(await errorDetail(response, "Creating the workshop"));
    }
  } catch (error) {
    showError(`Creating the workshop failed: ${error.message}. Check the connection and try again.`);
  }
  submitButton.disabled = false;
  submitButton.textContent = "Create workshop";
});

/** Uploads the chosen rubric file; on success it joins the list and is selected. */
async function uploadRubric() {
  const input = document.getElementById("rubric-file");
  const status = document.getElementById("rubric-upload-status");
  showError("");
  const file = input.files[0];
  if (!file) {
    showError("Choose a rubric file (.toml) to upload.");
    input.focus();
    return;
  }
  status.textContent = "Uploading…";

  const headers = { "Content-Type": "application/toml", Accept: "application/json" };
  if (!passwordField.hidden) {
    headers.Authorization = `Bearer ${form.elements.password.value}`;
  }
  let response;
  try {
    response = await fetch("/api/rubrics", { method: "POST", headers, body: await file.text() });
  } catch (error) {
    status.textContent = "";
    showError(`Uploading the rubric failed: ${error.message}. Check the connection and try again.`);
    return;
  }
  if (response.status === 401) {
    status.textContent = "";
    showError("Uploading a rubric needs the organiser password. Enter it and try again.");
    showPasswordField();
    return;
  }
  if (!response.ok) {
    status.textContent = "";
    showError(await errorDetail(response, "Uploading the rubric"));
    return;
  }

  const uploaded = await response.json();
  await loadRubrics(uploaded.id);
  status.textContent = `Uploaded "${uploaded.title}"; it is now the chosen rubric.`;
}

document.getElementById("rubric-upload-button").addEventListener("click", uploadRubric);

loadConfig();
loadRubrics();
