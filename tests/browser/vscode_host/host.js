// A test host that renders widgets the way VS Code's notebooks do: the real
// @vscode/jupyter-ipywidgets8 bundle (its WidgetManager, the ipywidgets and lumino CSS and
// the --jp-* variables it defines), require.js for third-party widgets (anywidget's
// nbextension, as VS Code loads it from the kernel's environment) and a kernel connection
// from @jupyterlab/services to a real kernel of the Jupyter server serving this page.
// The page stands for VS Code's output webview: its default styles, the theme's body
// classes and --vscode-* variables (captured from VS Code, ../shared/vscode-themes), the
// output nesting and vscode-jupyter's white widget background (webview.css).
import { activate } from "./ipywidgets.js";
import { KernelManager, ServerConnection } from "./services.js";

const WIDGET_VIEW = "application/vnd.jupyter.widget-view+json";
// index.html?kernel=none: VS Code reopening a saved notebook before a kernel is chosen
const withKernel = new URLSearchParams(location.search).get("kernel") !== "none";
// VS Code's order of an output's mimetypes (its ipynb deserializer); the first one whose
// renderer takes it shows, a renderer that cannot throws the error named FALLBACK
const MIME_ORDER = ["application/vnd.*", "application/vdom.*", "application/geo+json",
  "application/x-nteract-model-debug+json", "text/html", "application/javascript", "image/gif",
  "text/latex", "text/markdown", "image/png", "image/svg+xml", "image/jpeg", "application/json",
  "text/plain"];
const FALLBACK = "vscode.fallbackToNextRenderer";
const log = [];
const logger = (message) => log.push(String(message));

/** Theme as VS Code applies it: classes and data-* on <body>, variables on <html>. */
function setTheme(theme, { whiteRule = true } = {}) {
  const root = document.documentElement;
  for (const name of [...root.style]) if (name.startsWith("--vscode-")) root.style.removeProperty(name);
  for (const [name, value] of Object.entries(theme.variables)) root.style.setProperty(name, value);
  document.body.className = theme.body_classes.join(" ");
  for (const [name, value] of Object.entries(theme.attributes)) document.body.setAttribute(name, value);
  document.body.toggleAttribute("data-no-white-rule", !whiteRule);
}

// VS Code's webview forwards the keydown events that reach its window to the editor
const forwardedKeys = [];
window.addEventListener("keydown", (event) => forwardedKeys.push(event.key));

// how VS Code finds a widget's front end that ipywidgets does not bundle
const scriptLoader = {
  widgetsRegisteredInRequireJs: new Set(),
  async loadWidgetScript(moduleName) {
    if (moduleName !== "anywidget") throw new Error(`no script for widget module ${moduleName}`);
    window.requirejs.config({ paths: { anywidget: "anywidget" } });
    this.widgetsRegisteredInRequireJs.add(moduleName);
  },
  successHandler() {},
  errorHandler(className, moduleName, version, error) {
    logger(`could not load ${moduleName}:${className}@${version}: ${error}`);
  },
};

const whenVisible = (el) =>
  new Promise((resolve) => {
    const seen = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) (seen.disconnect(), resolve());
    });
    seen.observe(el);
  });

function mimeRank(mime) {
  const i = MIME_ORDER.findIndex((m) => (m.endsWith(".*") ? mime.startsWith(m.slice(0, -1)) : mime === m));
  return i < 0 ? 100 : i;
}

function fallback() {
  const error = new Error("the renderer hands this output on");
  error.name = FALLBACK;
  return error;
}

/** One saved output item with VS Code's renderers, no kernel: vscode-jupyter's widget
 * renderer hands a widget view on when no kernel is selected (or the kernel lacks the model);
 * the built-in ones draw images and text. */
function renderSavedItem(mime, value, target) {
  if (mime === WIDGET_VIEW) throw fallback();
  const text = Array.isArray(value) ? value.join("") : value;
  if (mime === "image/png" || mime === "image/jpeg") {
    const img = document.createElement("img");
    img.src = `data:${mime};base64,${text.replace(/\s/g, "")}`;
    target.append(img);
  } else if (mime === "text/plain") {
    const pre = document.createElement("pre");
    pre.textContent = text;
    target.append(pre);
  } else throw fallback();
}

/** A saved cell's outputs as VS Code shows them with no kernel; returns each output's shown
 * mimetype (null: VS Code's "could not render" error). */
function renderSaved(outputs) {
  const cell = document.createElement("div");
  cell.className = "cell_container saved";
  document.getElementById("container").append(cell);
  return outputs.map((output) => {
    const item = document.createElement("div");
    item.className = "output";
    cell.append(item);
    const mimes = Object.keys(output.data ?? {}).sort((a, b) => mimeRank(a) - mimeRank(b));
    for (const mime of mimes) {
      try {
        renderSavedItem(mime, output.data[mime], item);
        item.dataset.mime = mime;
        return mime;
      } catch (error) {
        if (error.name !== FALLBACK) throw error;
      }
    }
    item.textContent = "Could not render content";
    item.classList.add("error");
    return null;
  });
}

async function start() {
  activate();
  window.vscIPyWidgets8.load();
  if (!withKernel) return { renderSaved, setTheme, kernel: null };
  const serverSettings = ServerConnection.makeSettings({ baseUrl: `${location.origin}/` });
  const kernel = await new KernelManager({ serverSettings }).startNew({ name: "python3" });
  await kernel.info;
  const container = document.getElementById("container");
  const manager = new window.vscIPyWidgets.WidgetManager(kernel, container, scriptLoader, logger);

  /** VS Code's render steps for one widget output: get the model, create, display. */
  async function renderOutput(outputs, data, lazy) {
    const item = document.createElement("div");
    item.className = "output";
    const background = document.createElement("div");
    background.className = "cell-output-ipywidget-background";
    const target = document.createElement("div");
    background.append(target);
    item.append(background);
    outputs.append(item);
    item.style.minHeight = lazy ? "40px" : "";
    if (lazy) await whenVisible(item); // microsoft/vscode-jupyter#17132: render waits for view
    const model = await manager.get_model(data.model_id);
    const view = await manager.create_view(model, { el: target });
    await manager.display_view(data, view, { node: target });
  }

  /** Run `code` as one cell; its widget outputs render like VS Code's. `spacer` px of
   * other cells above it; `lazy`: render only once it is scrolled into view. */
  async function run(code, { lazy = false, spacer = 0 } = {}) {
    const cell = document.createElement("div");
    cell.className = "cell_container";
    cell.style.marginTop = `${spacer}px`;
    const outputs = document.createElement("div");
    outputs.className = "output_container";
    cell.append(outputs);
    container.append(cell);
    const rendering = [];
    const errors = [];
    const future = kernel.requestExecute({ code, stop_on_error: true });
    future.onIOPub = (msg) => {
      const { msg_type: type } = msg.header;
      if ((type === "display_data" || type === "execute_result") && msg.content.data[WIDGET_VIEW]) {
        rendering.push(renderOutput(outputs, msg.content.data[WIDGET_VIEW], lazy));
      } else if (type === "error") errors.push(`${msg.content.ename}: ${msg.content.evalue}`);
      else if (type === "stream") logger(msg.content.text);
    };
    await future.done;
    if (errors.length) throw new Error(errors.join("\n"));
    if (!lazy) await Promise.all(rendering);
    return rendering.length;
  }

  return { run, renderSaved, setTheme, kernel };
}

window.vscodeHost = { log, forwardedKeys, setTheme, ready: start() };
window.vscodeHost.ready.then(
  () => (document.body.dataset.ready = "true"),
  (error) => ((document.body.dataset.ready = "false"), logger(`host failed: ${error?.stack ?? error}`)),
);
