// The route API from the page: the token lives in sessionStorage (this tab
// only, gone when it closes), every failure becomes an ApiError with the API's
// code and message.
const KEY = "set-backend-token";

export const token = {
  get: () => sessionStorage.getItem(KEY),
  set: (value) => sessionStorage.setItem(KEY, value),
  clear: () => sessionStorage.removeItem(KEY),
};

export class ApiError extends Error {
  constructor(status, code, message, details = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** Listeners called when the API refuses the token (the page signs out). */
export const onUnauthorized = new Set();

export function entryPath(host) {
  return `/entries/${encodeURIComponent(host).replace(/\*/g, "%2A")}.json`;
}

/** GET a text answer (the edge's metrics); errors as `call`'s. */
export async function callText(path) {
  let response;
  try {
    response = await fetch(path, { headers: { Authorization: `Bearer ${token.get()}` }, cache: "no-store" });
  } catch {
    throw new ApiError(0, "unreachable", "the route API cannot be reached");
  }
  const text = await response.text();
  if (response.ok) return text;
  return answer(response.status, text);
}

export async function call(method, path, body, secret = token.get()) {
  const headers = {};
  if (secret) headers.Authorization = `Bearer ${secret}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store" });
  } catch {
    throw new ApiError(0, "unreachable", "the route API cannot be reached");
  }
  return answer(response.status, await response.text());
}

/** Turns a status and body into data, or throws the API's error. Shared with the import's XHR. */
export function answer(status, text) {
  let data = null;
  try {
    data = text === "" ? null : JSON.parse(text);
  } catch {
    throw new ApiError(status, "not_json", `the API answered ${status} with something that is not JSON`);
  }
  if (status >= 200 && status < 300) return data;
  const { error = "failed", message = `the API answered ${status}`, ...details } = data ?? {};
  if (status === 401) onUnauthorized.forEach((listener) => listener(message));
  throw new ApiError(status, String(error), String(message), details);
}
