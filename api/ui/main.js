// The admin page: sign in with the API token, then the routes, the add/edit
// form, the import and the status panel.
import { call, onUnauthorized, token } from "./api.js";
import { $, fieldError } from "./dom.js";
import { setUpForm, startEdit, stopEdit } from "./form.js";
import { setUpImport } from "./import.js";
import { loadPage, onRoutes, resetRoutes, setUpRoutes } from "./routes.js";
import { refreshStatus, startStatus, stopStatus } from "./status.js";

function showApp(signedIn) {
  $("sign-in").hidden = signedIn;
  $("app").hidden = !signedIn;
  $("sign-out").hidden = !signedIn;
}

async function enter() {
  showApp(true);
  startStatus();
  await loadPage();
  $("prefix").focus();
}

function signOut(reason = "") {
  token.clear();
  stopStatus();
  stopEdit();
  resetRoutes();
  showApp(false);
  $("token").value = "";
  fieldError($("token"), reason);
  $("token").focus();
}

async function signIn(event) {
  event.preventDefault();
  const secret = $("token").value.trim();
  if (!secret) {
    fieldError($("token"), "Enter the API token.");
    return;
  }
  try {
    // The cheapest call that needs the token.
    await call("GET", "/entries.json?limit=1", undefined, secret);
  } catch (error) {
    fieldError($("token"), error.status === 401 ? "The API refused this token." : error.message);
    $("token").focus();
    return;
  }
  fieldError($("token"), "");
  token.set(secret);
  await enter();
}

const changed = () => {
  void loadPage();
  void refreshStatus();
};

setUpRoutes();
onRoutes(startEdit, () => void refreshStatus());
setUpForm(changed);
setUpImport(changed);
onUnauthorized.add((message) => signOut(`Signed out: ${message}`));
$("sign-in-form").addEventListener("submit", (event) => void signIn(event));
$("sign-out").addEventListener("click", () => signOut());

if (token.get()) void enter();
else $("token").focus();
