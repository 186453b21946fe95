/** Renders the reference docs that must stay in step with the code (see scripts/docs.ts and test/docs.test.ts). */
import fs from 'node:fs';
import path from 'node:path';
import { errorCatalogue } from '../errors';
import type { ErrorSpec } from '../errors';

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function renderErrorsDoc(): string {
  const rows = Object.entries(errorCatalogue as Record<string, ErrorSpec>).map(
    ([code, spec]) =>
      `| \`${code}\` | ${spec.retryable ? 'yes' : 'no'} | ${spec.httpStatus ?? ''} | ${cell(spec.message)} | ${cell(spec.fix)} |`,
  );
  return `# Error catalogue

Every error temporal-mlops raises on purpose carries one of these codes: as the Temporal failure \`type\` (so workflows,
the CLI and the Web UI show it), at the start of the message, and in \`details[0].code\`. The message ends with the fix.
Non-retryable errors are raised with \`nonRetryable: true\`, so Temporal does not retry what cannot succeed; transient
faults (network, HTTP 5xx, a busy machine) are plain errors that Temporal retries under each step's retry policy.

Generated from \`src/errors.ts\` by \`npm run docs\`; \`test/docs.test.ts\` fails when the two differ.

| code | retryable | HTTP | message | how to fix |
|---|---|---|---|---|
${rows.join('\n')}
`;
}

interface ConfigField {
  name: string;
  doc: string;
}

/** Reads the TSDoc comment above each variable of `configSchema` in src/config.ts. */
function configFields(): ConfigField[] {
  const source = fs.readFileSync(path.resolve(__dirname, '..', 'config.ts'), 'utf8');
  const schema = source.slice(source.indexOf('export const configSchema'), source.indexOf('} as const;'));
  const fields: ConfigField[] = [];
  const pattern = /\/\*\*\s*([\s\S]*?)\s*\*\/\s*\n\s*([A-Z_]+):/g;
  for (let match = pattern.exec(schema); match; match = pattern.exec(schema)) {
    fields.push({ name: match[2]!, doc: match[1]!.replace(/\s*\n\s*\*\s*/g, ' ').trim() });
  }
  return fields;
}

export function renderConfigurationDoc(): string {
  const rows = configFields().map(({ name, doc }) => {
    const [text, fallback] = doc.split(/\s*@default\s*/);
    return `| \`${name}\` | ${cell(text ?? '')} | ${cell(fallback ?? '')} |`;
  });
  return `# Configuration

All settings come from environment variables, read once by \`loadConfig()\` (\`src/config.ts\`) and validated together:
a bad value or an unknown \`MLOPS_*\` name stops the process with one \`MLOPS_ERR_CONFIG_INVALID\` error listing every
problem. The Temporal connection uses the SDK's environment configuration (\`TEMPORAL_ADDRESS\`, \`TEMPORAL_NAMESPACE\`,
\`TEMPORAL_API_KEY\`, \`TEMPORAL_TLS_*\`, \`TEMPORAL_PROFILE\`, or a \`temporal.toml\` profile); without an address the
dev server's \`127.0.0.1:MLOPS_DEV_SERVER_PORT\` is used.

Generated from \`src/config.ts\` by \`npm run docs\`; \`test/docs.test.ts\` fails when the two differ.

| variable | meaning | default |
|---|---|---|
${rows.join('\n')}
`;
}
