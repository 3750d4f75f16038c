// Import a file: XMLHttpRequest, because fetch reports no upload progress. The
// bar follows the upload, then turns indeterminate while the API checks every
// line and commits them in one transaction.
import { answer, token } from "./api.js";
import { $, el } from "./dom.js";

const SHOWN_PROBLEMS = 20;
let onImported = () => {};

function upload(file, progress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/entries/import");
    xhr.setRequestHeader("Authorization", `Bearer ${token.get()}`);
    xhr.setRequestHeader("Content-Type", "application/x-ndjson");
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) progress(event.loaded / event.total);
    });
    xhr.upload.addEventListener("load", () => progress(null));
    xhr.addEventListener("load", () => {
      try {
        resolve(answer(xhr.status, xhr.responseText));
      } catch (error) {
        reject(error);
      }
    });
    xhr.addEventListener("error", () => reject(new Error("the upload failed: the route API cannot be reached")));
    xhr.send(file);
  });
}

async function start() {
  const file = $("import-file").files[0];
  const message = $("import-message");
  const bar = $("import-progress");
  $("import-problems").replaceChildren();
  if (!file) {
    message.textContent = "Choose a file first.";
    $("import-file").focus();
    return;
  }
  $("import-start").disabled = true;
  bar.hidden = false;
  bar.value = 0;
  message.textContent = `Uploading ${file.name}…`;
  try {
    const counts = await upload(file, (fraction) => {
      if (fraction === null) {
        bar.removeAttribute("value");
        message.textContent = "Uploaded; the API is checking every line and committing them…";
      } else {
        bar.value = fraction;
      }
    });
    bar.value = 1;
    message.textContent =
      `Imported ${counts.imported.toLocaleString("en")} routes: ${counts.created.toLocaleString("en")} created, ` +
      `${counts.replaced.toLocaleString("en")} replaced, ${counts.unchanged.toLocaleString("en")} unchanged.`;
    $("import-form").reset();
    onImported();
  } catch (error) {
    bar.hidden = true;
    message.textContent = `Import refused: ${error.message}`;
    const lines = Array.isArray(error.details?.lines) ? error.details.lines : [];
    $("import-problems").replaceChildren(
      ...lines.slice(0, SHOWN_PROBLEMS).map((problem) => el("li", `line ${problem.line}: ${problem.message}`)),
    );
  } finally {
    $("import-start").disabled = false;
  }
}

export function setUpImport(imported) {
  onImported = imported;
  $("import-form").addEventListener("submit", (event) => {
    event.preventDefault();
    void start();
  });
}
