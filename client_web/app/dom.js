// Building the page from data. Text only ever enters the document through
// textContent or text nodes, never as markup, so a message, a profile or a
// server error can never become HTML.

const PROPERTIES = new Set([
  "value",
  "checked",
  "disabled",
  "hidden",
  "type",
  "name",
  "id",
  "href",
  "src",
  "alt",
  "htmlFor",
  "tabIndex",
  "rows",
  "maxLength",
  "autocomplete",
  "spellcheck",
  "required",
  "selected",
  "min",
  "max",
  "step",
  "download",
  "target",
  "rel",
  "title",
  "dateTime",
]);

export function h(tag, props, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") element.className = value;
    else if (key === "text") element.textContent = value;
    else if (key === "style") throw new Error("inline styles are not allowed: use a class");
    else if (key.startsWith("on") && typeof value === "function") {
      element.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (PROPERTIES.has(key)) element[key] = value;
    else element.setAttribute(key, value === true ? "" : String(value));
  }
  append(element, children);
  return element;
}

export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

export function clear(element) {
  element.replaceChildren();
  return element;
}

export function byId(id) {
  return document.getElementById(id);
}
