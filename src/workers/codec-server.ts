/** Entry point: the codec server (`npm run codec-server`) for the Web UI and `temporal --codec-endpoint`. */
import { buildCodecServer } from '../codec/codec-server';
import { AesGcmPayloadCodec } from '../codec/payload-codec';
import { loadConfig } from '../config';

async function run(): Promise<void> {
  const config = loadConfig();
  if (config.codec.keys.length === 0)
    throw new Error('Set MLOPS_PAYLOAD_KEYS: the codec server has nothing to decode with');
  const app = buildCodecServer({
    codec: new AesGcmPayloadCodec(config.codec.keys),
    corsOrigins: config.codec.corsOrigins,
  });
  const address = await app.listen({ host: config.codec.host, port: config.codec.port });
  console.log(`codec server on ${address} (CORS for ${config.codec.corsOrigins.join(', ')})`);
}

run().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
