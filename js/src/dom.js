// A tiny element builder: h("div", {class: "x", dataset: {role: "y"}}, child, "text").

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "style") Object.assign(el.style, value);
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return el;
}

/** Value of a CSS custom property on `el`, or `fallback`. */
export function cssVar(el, name, fallback) {
  const value = getComputedStyle(el).getPropertyValue(name).trim();
  return value || fallback;
}

/** Start a browser download of `blob` named `filename`. */
export function download(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: filename, style: { display: "none" } });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

// The SVG namespace, read from the HTML parser, so that the bundle holds no URL.
let svgNamespace = null;
function svgNs() {
  if (svgNamespace === null) {
    const probe = document.createElement("div");
    probe.innerHTML = "<svg></svg>";
    svgNamespace = probe.firstChild.namespaceURI;
  }
  return svgNamespace;
}

/** An SVG element: svg("line", {x1: 0, class: "x"}, child). Attributes are set as given. */
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(svgNs(), tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return el;
}
