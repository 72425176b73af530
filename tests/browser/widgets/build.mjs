// Bundle each widget page (src/*.jsx except the shared page.jsx; report.js is imported) into dist/ with esbuild.
import { build } from "esbuild";
import { readdirSync, mkdirSync, writeFileSync } from "node:fs";

const entries = readdirSync("src")
  .filter((f) => f.endsWith(".jsx") && f !== "page.jsx")
  .map((f) => `src/${f}`);
mkdirSync("dist", { recursive: true });
await build({
  entryPoints: entries,
  bundle: true,
  minify: true,
  format: "iife",
  outdir: "dist",
  jsx: "automatic",
  alias: { vue: "vue/dist/vue.runtime.esm-bundler.js" },
  define: {
    "process.env.NODE_ENV": '"production"',
    __VUE_OPTIONS_API__: "false",
    __VUE_PROD_DEVTOOLS__: "false",
    __VUE_PROD_HYDRATION_MISMATCH_DETAILS__: "false",
  },
  logLevel: "warning",
});
writeFileSync("dist/.built", new Date().toISOString() + "\n");
console.log(`built ${entries.length} widget bundles`);
