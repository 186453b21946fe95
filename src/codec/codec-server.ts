/**
 * The codec server the Temporal Web UI (`--ui-codec-endpoint`, or the UI's "Data Encoder" setting) and the CLI
 * (`--codec-endpoint`) call to show encrypted payloads decoded: `POST /decode` and `POST /encode` take and return
 * `{ payloads: [{ metadata: { key: base64 }, data: base64 }] }`. Cross-origin requests are answered for the listed
 * origins only (the Web UI's). It decrypts for whoever can reach it: bind it to loopback, or put authentication in
 * front of it (docs/security.md).
 */
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import type { Payload, PayloadCodec } from '@temporalio/common';

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

export interface CodecServerOptions {
  codec: PayloadCodec;
  /** Origins allowed to call from a browser, e.g. `http://localhost:8233`. */
  corsOrigins: readonly string[];
}

const bodySchema = {
  type: 'object',
  required: ['payloads'],
  properties: {
    payloads: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          metadata: { type: 'object', additionalProperties: { type: 'string' } },
          data: { type: 'string' },
        },
      },
    },
  },
} as const;

export function buildCodecServer({ codec, corsOrigins }: CodecServerOptions): FastifyInstance {
  const app = Fastify({ bodyLimit: 16 * 1024 * 1024 });
  app.addHook('onRequest', async (request, reply) => {
    const origin = request.headers.origin;
    if (!origin || !corsOrigins.includes(origin)) return;
    reply.header('access-control-allow-origin', origin);
    reply.header('vary', 'origin');
    reply.header('access-control-allow-methods', 'POST, OPTIONS');
    reply.header('access-control-allow-headers', 'content-type, x-namespace, authorization');
    reply.header('access-control-allow-credentials', 'true');
  });
  app.options('/*', async (_request, reply) => reply.code(204).send());
  for (const direction of ['encode', 'decode'] as const) {
    app.post<{ Body: { payloads: JsonPayload[] } }>(
      `/${direction}`,
      { schema: { body: bodySchema } },
      async (request) => {
        const payloads = await codec[direction](request.body.payloads.map(fromJson));
        return { payloads: payloads.map(toJson) };
      },
    );
  }
  return app;
}

function fromJson(payload: JsonPayload): Payload {
  const metadata = Object.fromEntries(
    Object.entries(payload.metadata ?? {}).map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'base64'))]),
  );
  return { metadata, data: new Uint8Array(Buffer.from(payload.data ?? '', 'base64')) };
}

function toJson(payload: Payload): JsonPayload {
  const metadata = Object.fromEntries(
    Object.entries(payload.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? []).toString('base64')]),
  );
  return { metadata, data: Buffer.from(payload.data ?? []).toString('base64') };
}
