// Bundle host/services.js (@jupyterlab/services) into one browser ES module for the
// VS Code test host (tests/browser/vscode_host). Usage: node host/build.mjs OUTFILE
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const outfile = process.argv[2];
if (!outfile) throw new Error("usage: node host/build.mjs OUTFILE");

await build({
  entryPoints: [join(here, "services.js")],
  outfile: resolve(outfile),
  bundle: true,
  format: "esm",
  target: "es2020",
  platform: "browser",
  minify: true,
  legalComments: "none",
  logLevel: "warning",
  absWorkingDir: resolve(here, ".."),
  define: { "process.env.NODE_ENV": '"production"' },
});
