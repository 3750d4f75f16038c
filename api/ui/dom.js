// DOM helpers. Every piece of data reaches the page through textContent or an
// attribute value, never as markup (the CSP's Trusted Types rule makes
// innerHTML and friends throw, should anyone try).
export const $ = (id) => document.getElementById(id);

/** An element with text content and attributes; children appended in order. */
export function el(tag, text, attributes = {}, ...children) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

/** Shows (or clears, with "") the error under an input and marks the input invalid. */
export function fieldError(input, message) {
  const slot = $(`${input.id}-error`);
  slot.textContent = message;
  if (message) input.setAttribute("aria-invalid", "true");
  else input.removeAttribute("aria-invalid");
}

export const time = (date) => date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
