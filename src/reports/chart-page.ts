/**
 * The shell of the project's reports (the dataset profile, the drift report): one self-contained HTML page that works
 * offline, opened from disk. Vega, Vega-Lite and vega-embed are inlined; the chart specs travel as one JSON block
 * escaped so no data string can end the script element; a Content-Security-Policy forbids every network load.
 */
import fs from 'node:fs/promises';
import path from 'node:path';

export interface ChartPage {
  /** The document title (plain text). */
  title: string;
  /** The page heading and the line under it (HTML). */
  heading: string;
  subtitle: string;
  css: string;
  /** The page body (HTML), holding an element with each chart's id. */
  body: string;
  /** The footer (HTML). */
  footer: string;
  charts: { id: string; spec: unknown }[];
}

/** The whole page; `body[data-charts]` becomes `ready` (or `failed`) once every chart is drawn, for readers and tests. */
export async function renderChartPage(page: ChartPage): Promise<string> {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(page.title)}</title>
<style>${page.css}</style>
</head><body data-charts="pending">
<header><h1>${page.heading}</h1><p>${page.subtitle}</p></header>
<main>
${page.body}
</main>
<footer>${page.footer}</footer>
<script type="application/json" id="report-charts">${jsonForScript(page.charts)}</script>
<script>${await loadLibraries()}</script>
<script>${bootstrap}</script>
</body></html>
`;
}

const bootstrap = `
(function () {
  var charts = JSON.parse(document.getElementById('report-charts').textContent);
  Promise.all(charts.map(function (c) {
    return vegaEmbed('#' + c.id, c.spec, { renderer: 'svg', actions: false });
  })).then(function () { document.body.dataset.charts = 'ready'; }, function (err) {
    document.body.dataset.charts = 'failed';
    console.error(err);
  });
})();`;

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/**
 * JSON that is inert inside a `<script>` element: `<`, `>` and `&` become `\u003c`-style escapes (so neither
 * `</script>` nor `<!--` can appear), and U+2028/2029 are escaped for older JavaScript parsers.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** The browser builds of the chart libraries, in load order: package and file beside its main module. */
const libraries = ['vega', 'vega-lite', 'vega-embed'] as const;

let inlined: Promise<string> | undefined;

/** Reads the libraries once per process; a failed read is retried on the next report. */
function loadLibraries(): Promise<string> {
  inlined ??= Promise.all(
    libraries.map((pkg) => fs.readFile(path.join(path.dirname(require.resolve(pkg)), `${pkg}.min.js`), 'utf8')),
  ).then(
    // A literal "</script" inside a library would end its element; in JavaScript it can only sit in a string, template
    // or regular expression literal, where "<\/script" means the same.
    (sources) => sources.map((s) => s.replace(/<\/script/gi, '<\\/script')).join('\n;\n'),
    (err: unknown) => {
      inlined = undefined;
      throw err;
    },
  );
  return inlined;
}
