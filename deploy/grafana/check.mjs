// Type-checks every dashboard in ./dashboards against Grafana's published schema
// (@grafana/schema), with the TypeScript compiler in strict mode.
//
//   cd deploy/grafana && npm ci && node check.mjs
//
// For each dashboard it writes a .ts file into a scratch directory:
//
//   import type { Dashboard } from '@grafana/schema';
//   export const dashboard: JsonOf<Dashboard> = <the dashboard JSON>;
//
// plus one constant per panel for the parts the Dashboard type leaves open (Record<string,
// unknown>): the options and field config of the panel's plugin (timeseries, stat, text), and
// each query against the Prometheus query model. Object literals get TypeScript's
// excess-property check, so a misspelled or unknown property is an error, as is a wrong type
// or a missing required field. JsonOf<T> only turns the schema's string enums into their
// string values (JSON cannot name an enum member); nothing else is relaxed.
//
// Exits non-zero when a dashboard does not type-check.

import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dashboardsDir = join(here, 'dashboards');
const composable = (plugin, name) =>
  `@grafana/schema/dist/esm/raw/composable/${plugin}/panelcfg/x/${name}PanelCfg_types.gen`;

// Panel types whose options and field config we check; any other type is an error, so a new
// panel type cannot slip through unchecked.
const plugins = {
  timeseries: { module: composable('timeseries', 'TimeSeries'), options: 'TimeSeriesOptions', custom: 'TimeSeriesFieldConfig' },
  stat: { module: composable('stat', 'Stat'), options: 'StatOptions', custom: null },
  text: { module: composable('text', 'Text'), options: 'TextOptions', custom: null },
};

const prelude = `
import type { Dashboard, DataSourceRef } from '@grafana/schema';
import type { Options as TimeSeriesOptions, FieldConfig as TimeSeriesFieldConfig } from '${plugins.timeseries.module}';
import type { Options as StatOptions } from '${plugins.stat.module}';
import type { Options as TextOptions } from '${plugins.text.module}';

/** T as it appears in JSON: string enums become the union of their values. */
type JsonOf<T> = T extends string
  ? \`\${T}\`
  : T extends number | boolean | null | undefined
    ? T
    : T extends ReadonlyArray<infer U>
      ? Array<JsonOf<U>>
      : T extends object
        ? { [K in keyof T]: JsonOf<T[K]> }
        : T;

/** Grafana's Prometheus query model (public/app/plugins/datasource/prometheus, dataquery.cue). */
interface PromQuery {
  refId: string;
  datasource?: DataSourceRef;
  hide?: boolean;
  queryType?: string;
  expr: string;
  legendFormat?: string;
  instant?: boolean;
  range?: boolean;
  exemplar?: boolean;
  editorMode?: 'code' | 'builder';
  format?: 'time_series' | 'table' | 'heatmap';
  interval?: string;
  intervalFactor?: number;
}
`;

function panelsOf(panels) {
  const out = [];
  for (const p of panels ?? []) {
    out.push(p);
    out.push(...panelsOf(p.panels));
  }
  return out;
}

const files = readdirSync(dashboardsDir).filter((f) => f.endsWith('.json')).sort();
if (files.length === 0) {
  console.error(`no dashboards in ${dashboardsDir}`);
  process.exit(1);
}

const errors = [];
// Inside this directory so that '@grafana/schema' resolves from ./node_modules.
const out = mkdtempSync(join(here, '.check-'));
try {
  const sources = [];
  for (const file of files) {
    const dashboard = JSON.parse(readFileSync(join(dashboardsDir, file), 'utf8'));
    let ts = `${prelude}\nexport const dashboard: JsonOf<Dashboard> = ${JSON.stringify(dashboard, null, 2)};\n`;
    for (const p of panelsOf(dashboard.panels)) {
      if (p.type === 'row') continue;
      const plugin = plugins[p.type];
      if (!plugin) {
        errors.push(`${file}: panel ${p.id} "${p.title}": no schema checked for panel type ${p.type}`);
        continue;
      }
      const id = `panel_${p.id}`;
      ts += `export const ${id}_options: JsonOf<${plugin.options}> = ${JSON.stringify(p.options ?? {}, null, 2)};\n`;
      const custom = p.fieldConfig?.defaults?.custom;
      if (plugin.custom) {
        ts += `export const ${id}_custom: JsonOf<${plugin.custom}> = ${JSON.stringify(custom ?? {}, null, 2)};\n`;
      } else if (custom !== undefined && Object.keys(custom).length > 0) {
        errors.push(`${file}: panel ${p.id} "${p.title}": ${p.type} panels have no custom field config`);
      }
      (p.targets ?? []).forEach((t, i) => {
        ts += `export const ${id}_target_${i}: PromQuery = ${JSON.stringify(t, null, 2)};\n`;
      });
    }
    const name = join(out, file.replace(/\.json$/, '.ts'));
    writeFileSync(name, ts);
    sources.push(name);
  }

  const tsc = join(here, 'node_modules', 'typescript', 'bin', 'tsc');
  const result = spawnSync(
    process.execPath,
    [
      tsc,
      '--noEmit',
      '--strict',
      '--target', 'es2022',
      '--module', 'esnext',
      '--moduleResolution', 'bundler',
      '--skipLibCheck',
      '--pretty', 'false',
      ...sources,
    ],
    { cwd: here, encoding: 'utf8' },
  );
  if (result.status !== 0) {
    errors.push(`tsc failed (status ${result.status}):\n${result.stdout}${result.stderr}`);
  }
} finally {
  if (errors.length > 0 && process.env.GLIMPSE_KEEP_CHECK) {
    console.error(`kept ${out}`);
  } else {
    rmSync(out, { recursive: true, force: true });
  }
}

if (errors.length > 0) {
  console.error(errors.join('\n'));
  process.exit(1);
}
console.log(`${files.length} dashboards match @grafana/schema`);
