// The widget's colours, fitted to the surface it is actually drawn on. Hosts disagree
// with their own body classes: VS Code's ipywidgets renderer defines JupyterLab's light
// --jp-* values in every theme and (vscode-jupyter#7161) paints each widget output
// white, even under a dark theme. So the widget reads the colour behind it, picks its
// light or dark palette from that, and takes a host colour only where it reads on it.

const AA = 4.5; // WCAG AA for body text

let probe = null;
/** Any CSS colour -> [r, g, b, a] (bytes, alpha 0..1), as the browser paints it. */
export function parseColor(css) {
  probe = probe ?? document.createElement("canvas").getContext("2d", { willReadFrequently: true });
  probe.clearRect(0, 0, 1, 1);
  probe.fillStyle = "rgb(0 0 0 / 0)";
  probe.fillStyle = css;
  probe.fillRect(0, 0, 1, 1);
  const d = probe.getImageData(0, 0, 1, 1).data;
  return [d[0], d[1], d[2], d[3] / 255];
}

/** `top` composited over the opaque `below`. */
export function over(top, below) {
  return [0, 1, 2].map((i) => top[i] * top[3] + below[i] * (1 - top[3])).concat(1);
}

/** WCAG relative luminance of an [r, g, b] colour. */
export function luminance([r, g, b]) {
  const lin = (v) => ((v /= 255) <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

export function contrast(a, b) {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

/** Dark when white text reads better on it than black text. */
export const isDark = (color) => contrast(color, [255, 255, 255]) > contrast(color, [0, 0, 0]);

/**
 * The opaque colour behind `el`: the backgrounds of its ancestors composited up to the
 * first opaque one. A page whose ancestors are all transparent (VS Code's webview sits on
 * the editor) shows the host's editor background, else white.
 */
export function surfaceBehind(el) {
  const layers = [];
  for (let e = el.parentElement; e; e = e.parentElement) {
    const c = parseColor(getComputedStyle(e).backgroundColor);
    if (c[3] > 0) layers.push(c);
    if (c[3] >= 1) break;
  }
  const editor = getComputedStyle(document.documentElement).getPropertyValue("--vscode-editor-background").trim();
  const base = layers.at(-1)?.[3] >= 1 ? layers.pop() : editor ? parseColor(editor) : [255, 255, 255, 1];
  return layers.reduceRight((below, layer) => over(layer, below), over(base, [255, 255, 255, 1]));
}

// Host variables for each role, in order of preference; the widget's own colour for the
// scheme (the stylesheet's value) comes last.
const HOST = {
  bg: ["--jp-layout-color1", "--vscode-editor-background"],
  fg: ["--jp-ui-font-color1", "--vscode-editor-foreground"],
  muted: ["--jp-ui-font-color2", "--vscode-descriptionForeground"],
};

/**
 * Set the palette of `root` for the surface under it: data-scheme "light" or "dark" (the
 * stylesheet keys its own colours on it) and --ew-bg, --ew-fg and --ew-muted inline.
 * The background is the host's when it is on the same side (light or dark) as the
 * surface, else the surface itself; a text colour is the host's when it reaches 4.5:1
 * on that background, else the widget's own. Returns the scheme, or null when `root` is
 * not in a document yet.
 */
export function fitToSurface(root) {
  if (!root.isConnected) return null;
  for (const name of ["--ew-bg", "--ew-fg", "--ew-muted"]) root.style.removeProperty(name);
  const style = getComputedStyle(root);
  const hostColor = (name) => {
    const value = style.getPropertyValue(name).trim();
    return value ? parseColor(value) : null;
  };
  const surface = surfaceBehind(root);
  const dark = isDark(surface);
  const scheme = dark ? "dark" : "light";
  root.dataset.scheme = scheme; // from here on `style` gives the stylesheet's colours for it
  let bg = surface;
  for (const name of HOST.bg) {
    const c = hostColor(name);
    if (c && c[3] > 0 && isDark(over(c, surface)) === dark) {
      bg = over(c, surface);
      break;
    }
  }
  const css = ([r, g, b, a = 1]) => `rgb(${Math.round(r)} ${Math.round(g)} ${Math.round(b)} / ${a})`;
  root.style.setProperty("--ew-bg", css(bg));
  for (const role of ["fg", "muted"]) {
    let chosen = style.getPropertyValue(`--ew-${role}`).trim();
    for (const name of HOST[role]) {
      const c = hostColor(name);
      if (c && c[3] > 0 && contrast(over(c, bg), bg) >= AA) {
        chosen = css(c);
        break;
      }
    }
    root.style.setProperty(`--ew-${role}`, chosen);
  }
  return scheme;
}
