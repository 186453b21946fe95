/** Entry point: the codec server (`npm run codec-server`) for the Web UI and `temporal --codec-endpoint`. */
import { buildCodecServer } from '../codec/codec-server';
import { AesGcmPayloadCodec } from '../codec/payload-codec';
import { loadConfig } from '../config';
import { takeNoArguments } from '../entry-arguments';
import { isMlopsError, mlopsError } from '../errors';

async function run(): Promise<void> {
  takeNoArguments(
    'npm run codec-server',
    `npm run codec-server: decodes the project's encrypted payloads for the Temporal Web UI and
temporal --codec-endpoint (docs/security.md), until Ctrl-C.

Settings (environment variables; docs/configuration.md lists every one):
  MLOPS_PAYLOAD_KEYS        the payload keys (required: the same as the workers')
  MLOPS_CODEC_SERVER_HOST, MLOPS_CODEC_SERVER_PORT   where it listens (default 127.0.0.1:8888)
  MLOPS_CODEC_CORS_ORIGINS  the Web UI origins it answers (default the dev server's UI)`,
  );
  const config = loadConfig();
  if (config.codec.keys.length === 0)
    throw mlopsError('MLOPS_ERR_CONFIG_INVALID', {
      problems: '- MLOPS_PAYLOAD_KEYS: required: the codec server has nothing to decode with',
    });
  const app = buildCodecServer({
    codec: new AesGcmPayloadCodec(config.codec.keys),
    corsOrigins: config.codec.corsOrigins,
  });
  const address = await app.listen({ host: config.codec.host, port: config.codec.port });
  console.log(`codec server on ${address} (CORS for ${config.codec.corsOrigins.join(', ')})`);
}

run().catch((err: unknown) => {
  console.error(isMlopsError(err) ? err.message : err);
  process.exit(1);
});
