// The WCAG contrast ratio of every visible piece of text under `root` against the colour
// behind it: (root) => [{text, role, ratio, fg, bg}], for Playwright's locator.evaluate.
// Colours are read back through a canvas, so any CSS colour syntax the page uses
// (oklch, relative colours, variables) counts as the browser paints it. The background is
// the element's and its ancestors' backgrounds composited up to the first opaque one.
(root) => {
  const ctx = document.createElement("canvas").getContext("2d", { willReadFrequently: true });
  const rgba = (css) => {
    ctx.clearRect(0, 0, 1, 1);
    ctx.fillStyle = "rgb(0 0 0 / 0)";
    ctx.fillStyle = css;
    ctx.fillRect(0, 0, 1, 1);
    const d = ctx.getImageData(0, 0, 1, 1).data;
    return [d[0], d[1], d[2], d[3] / 255];
  };
  const over = (top, below) => [0, 1, 2].map((i) => top[i] * top[3] + below[i] * (1 - top[3])).concat(1);
  const backdrop = (el) => {
    const layers = [];
    for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
      const c = rgba(getComputedStyle(e).backgroundColor);
      if (c[3] > 0) layers.push(c);
      if (c[3] >= 1) break;
    }
    return layers.reduceRight((below, layer) => over(layer, below), [255, 255, 255, 1]);
  };
  const luminance = (c) => {
    const lin = (v) => ((v /= 255) <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
    return 0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2]);
  };
  const ratio = (a, b) => {
    const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
  };
  const rows = [];
  for (const el of root.querySelectorAll("*")) {
    const text = Array.from(el.childNodes)
      .filter((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim())
      .map((n) => n.textContent.trim())
      .join(" ");
    const style = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    if (!text || !box.width || !box.height || style.visibility === "hidden") continue;
    if (el.closest(":disabled")) continue; // WCAG exempts inactive controls
    const svg = el instanceof SVGElement;
    const bg = backdrop(svg ? el.closest("svg") : el);
    const fg = over(rgba(svg ? style.fill : style.color), bg);
    const role = el.dataset?.role || String(el.className?.baseVal ?? el.className) || el.tagName;
    rows.push({ text: text.slice(0, 40), role, ratio: ratio(fg, bg), fg: fg.slice(0, 3).map(Math.round), bg: bg.slice(0, 3).map(Math.round) });
  }
  return rows;
}
