// Bundle src/widget.js into ONE self-contained ES module (the anywidget front end) and
// src/page.js into another (the boot code of the offline HTML page), and copy the stylesheet.
// Usage: node build.mjs [outdir]   (default: ../eagle_widget/static)
// The output is committed; tests/test_js.py rebuilds it and compares byte for byte.
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const outdir = resolve(process.argv[2] ?? join(here, "..", "eagle_widget", "static"));
mkdirSync(outdir, { recursive: true });

await build({
  entryPoints: [join(here, "src", "widget.js"), join(here, "src", "page.js")],
  outdir,
  bundle: true,
  format: "esm",
  target: "es2020",
  platform: "browser",
  minify: false,
  legalComments: "none",
  charset: "utf8",
  logLevel: "warning",
  absWorkingDir: here,
});
copyFileSync(join(here, "src", "widget.css"), join(outdir, "widget.css"));
console.log(`built ${join(outdir, "widget.js")}, page.js and widget.css`);
