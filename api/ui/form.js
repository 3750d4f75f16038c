// Add or edit one route. Adding POSTs {host, backend}; editing PUTs the backend
// of a fixed host. The API's validation errors land next to the field they are about.
import { call, entryPath } from "./api.js";
import { $, fieldError } from "./dom.js";

let editing = null;
let onSaved = () => {};

const FIELD_OF = { invalid_host: "route-host", invalid_backend: "route-backend" };

function clearErrors() {
  fieldError($("route-host"), "");
  fieldError($("route-backend"), "");
  $("route-error").textContent = "";
}

export function startEdit(entry) {
  editing = entry.host;
  clearErrors();
  $("edit-title").textContent = "Edit route";
  $("route-host").value = entry.host;
  $("route-host").readOnly = true;
  $("route-backend").value = entry.backend;
  $("route-save").textContent = "Save backend";
  $("route-cancel").hidden = false;
  $("route-message").textContent = "";
  $("route-backend").focus();
  $("route-backend").select();
}

export function stopEdit() {
  editing = null;
  clearErrors();
  $("edit-title").textContent = "Add a route";
  $("route-form").reset();
  $("route-host").readOnly = false;
  $("route-save").textContent = "Add route";
  $("route-cancel").hidden = true;
}

async function save() {
  clearErrors();
  const host = $("route-host").value.trim();
  const backend = $("route-backend").value.trim();
  for (const [input, value] of [[$("route-host"), host], [$("route-backend"), backend]]) {
    if (value === "") {
      fieldError(input, "required");
      input.focus();
      return;
    }
  }
  try {
    const entry = editing
      ? await call("PUT", entryPath(editing), { backend })
      : await call("POST", "/entries.json", { host, backend });
    const verb = editing ? "Saved" : "Stored";
    stopEdit();
    $("route-message").textContent = `${verb} ${entry.host} → ${entry.backend}.`;
    onSaved(entry);
  } catch (error) {
    $("route-message").textContent = "";
    const field = FIELD_OF[error.code];
    if (field) {
      fieldError($(field), error.message);
      $(field).focus();
    } else {
      $("route-error").textContent = error.message;
    }
  }
}

export function setUpForm(saved) {
  onSaved = saved;
  $("route-form").addEventListener("submit", (event) => {
    event.preventDefault();
    void save();
  });
  $("route-cancel").addEventListener("click", () => {
    stopEdit();
    $("route-host").focus();
  });
}
