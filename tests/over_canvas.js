// The worst WCAG contrast of each visible text drawn over a canvas, over the canvas pixels
// beneath it: (canvas, selector) => [{text, ratio, pixels}] for the elements matching
// `selector` among the canvas's siblings' descendants, the text's own background composited
// over each pixel. contrast.js composites up an element's ancestors only, so it cannot see
// an image that a text is drawn over.
(canvas, selector) => {
  const probe = document.createElement("canvas").getContext("2d", { willReadFrequently: true });
  const rgba = (css) => {
    probe.clearRect(0, 0, 1, 1);
    probe.fillStyle = "rgb(0 0 0 / 0)";
    probe.fillStyle = css;
    probe.fillRect(0, 0, 1, 1);
    const d = probe.getImageData(0, 0, 1, 1).data;
    return [d[0], d[1], d[2], d[3] / 255];
  };
  const over = (top, below) => [0, 1, 2].map((i) => top[i] * top[3] + below[i] * (1 - top[3]));
  const luminance = (c) => {
    const lin = (v) => ((v /= 255) <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
    return 0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2]);
  };
  const ratio = (a, b) => {
    const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
  };
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  const box = canvas.getBoundingClientRect();
  const sx = canvas.width / box.width, sy = canvas.height / box.height;
  return [...canvas.parentElement.querySelectorAll(selector)]
    .filter((b) => b.getBoundingClientRect().width > 0)
    .map((b) => {
      const r = b.getBoundingClientRect();
      const style = getComputedStyle(b);
      const fg = rgba(style.color), bg = rgba(style.backgroundColor);
      const x0 = Math.max(0, Math.floor((r.left - box.left) * sx));
      const x1 = Math.min(canvas.width, Math.ceil((r.right - box.left) * sx));
      const y0 = Math.max(0, Math.floor((r.top - box.top) * sy));
      const y1 = Math.min(canvas.height, Math.ceil((r.bottom - box.top) * sy));
      let worst = Infinity, pixels = 0;
      for (let y = y0; y < y1; y++)
        for (let x = x0; x < x1; x++) {
          const i = 4 * (y * canvas.width + x);
          const behind = over(bg, [data[i], data[i + 1], data[i + 2]]);
          worst = Math.min(worst, ratio(over(fg, behind), behind));
          pixels++;
        }
      return { text: b.textContent, ratio: worst, pixels };
    });
}
