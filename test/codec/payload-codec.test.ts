import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { promisify } from 'node:util';
import { Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { Payload } from '@temporalio/common';
import { buildCodecServer } from '../../src/codec/codec-server';
import { AesGcmPayloadCodec, payloadDataConverter } from '../../src/codec/payload-codec';
import type { TrainingPipelineInput } from '../../src/contracts/pipeline';
import { trainingPipeline } from '../../src/workflows';
import { assertWorkflowFailed } from '../support/assert-workflow';
import { stack, testConfig, uniqueName } from '../support/stack';
import { withWorkers } from '../support/workers';

const run = promisify(execFile);

interface JsonPayload {
  metadata: Record<string, string>;
  data: string;
}
const newKey = () => crypto.randomBytes(32).toString('base64');
const json = (value: unknown): Payload => ({
  metadata: { encoding: new TextEncoder().encode('json/plain') },
  data: new TextEncoder().encode(JSON.stringify(value)),
});

describe('payload encryption', function () {
  it('encrypts with the first key, names it in the metadata, and decrypts with any configured key', async function () {
    const old = { id: 'k2025', key: newKey() };
    const current = { id: 'k2026', key: newKey() };
    const before = new AesGcmPayloadCodec([old]);
    const rotated = new AesGcmPayloadCodec([current, old]);
    const [sealedOld] = await before.encode([json({ secret: 'alpha-123' })]);
    const [sealedNew] = await rotated.encode([json({ secret: 'beta-456' })]);
    assert.equal(Buffer.from(sealedNew!.metadata!['encryption-key-id']!).toString(), 'k2026');
    assert.ok(!Buffer.from(sealedNew!.data!).toString('latin1').includes('beta-456'));
    const decoded = await rotated.decode([sealedOld!, sealedNew!, json('plain, from before encryption')]);
    assert.deepEqual(
      decoded.map((p) => JSON.parse(Buffer.from(p.data!).toString()) as unknown),
      [{ secret: 'alpha-123' }, { secret: 'beta-456' }, 'plain, from before encryption'],
    );
    await assert.rejects(
      new AesGcmPayloadCodec([current]).decode([sealedOld!]),
      (err: unknown) => err instanceof ApplicationFailure && err.type === 'MLOPS_ERR_CODEC_KEY_UNKNOWN',
    );
    const tampered = { ...sealedNew!, data: Uint8Array.from(sealedNew!.data!, (b, i) => (i === 20 ? b ^ 1 : b)) };
    await assert.rejects(rotated.decode([tampered]), /authenticate/);
  });

  it('answers the Web UI origin cross-origin and no other', async function () {
    const app = buildCodecServer({
      codec: new AesGcmPayloadCodec([{ id: 'k', key: newKey() }]),
      corsOrigins: ['http://localhost:8233'],
    });
    const preflight = (origin: string) =>
      app.inject({
        method: 'OPTIONS',
        url: '/decode',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'x-namespace' },
      });
    const ui = await preflight('http://localhost:8233');
    assert.equal(ui.statusCode, 204);
    assert.equal(ui.headers['access-control-allow-origin'], 'http://localhost:8233');
    assert.match(String(ui.headers['access-control-allow-headers']), /x-namespace/);
    const other = await preflight('http://evil.example');
    assert.equal(other.headers['access-control-allow-origin'], undefined);
    const bad = await app.inject({ method: 'POST', url: '/decode', payload: { nope: [] } });
    assert.equal(bad.statusCode, 400);
    await app.close();
  });

  it("keeps a marked input out of the dev server's database in plain text, while the CLI with the codec endpoint shows it", async function () {
    const keys = `k1:${newKey()}`;
    const config = testConfig({ MLOPS_PAYLOAD_KEYS: keys });
    const secret = `secret-marker-${crypto.randomBytes(6).toString('hex')}`;
    const plain = `plain-marker-${crypto.randomBytes(6).toString('hex')}`;
    // Invalid model names end each run at validation; neither message nor search attribute quotes the dataset URI.
    const input = (marker: string) =>
      ({
        modelName: 'Not A Name',
        dataset: { uri: `examples/${marker}.csv` },
        target: 'churned',
      }) as TrainingPipelineInput;
    const encrypting = new Client({
      connection: stack().client.connection,
      namespace: stack().server.namespace,
      dataConverter: payloadDataConverter(config.codec.keys),
    });
    const codecServer = buildCodecServer({
      codec: new AesGcmPayloadCodec(config.codec.keys),
      corsOrigins: config.codec.corsOrigins,
    });
    const endpoint = await codecServer.listen({ host: '127.0.0.1', port: 0 });
    try {
      const secretId = uniqueName('encrypted');
      await withWorkers({ config, title: this.test!.title }, async (queues) => {
        await assertWorkflowFailed(
          encrypting.workflow.execute(trainingPipeline, {
            taskQueue: queues.pipeline,
            workflowId: secretId,
            args: [input(secret)],
          }),
          ApplicationFailure,
          'MLOPS_ERR_PIPELINE_INPUT_INVALID',
        );
        // A client without the codec writes its input in plain text (its result it could not read: the worker encrypts).
        await stack().client.workflow.start(trainingPipeline, {
          taskQueue: queues.pipeline,
          workflowId: uniqueName('plain'),
          args: [input(plain)],
        });
      });
      const { dbFile } = stack().server;
      const stored = [dbFile, `${dbFile}-wal`]
        .filter((file) => fs.existsSync(file))
        .map((file) => fs.readFileSync(file).toString('latin1'))
        .join('');
      assert.ok(stored.includes(plain), 'an unencrypted input is found in the database (the search works)');
      assert.ok(!stored.includes(secret), 'the encrypted input is not');

      const show = async (...extra: string[]) =>
        (
          await run(stack().cliPath, [
            'workflow',
            'show',
            '--workflow-id',
            secretId,
            '--address',
            stack().server.address,
            '--namespace',
            stack().server.namespace,
            '--output',
            'json',
            ...extra,
          ])
        ).stdout;
      const startInput = (output: string) => {
        const history = JSON.parse(output) as {
          events: { workflowExecutionStartedEventAttributes?: { input: { payloads: JsonPayload[] } } }[];
        };
        const [payload] = history.events[0]!.workflowExecutionStartedEventAttributes!.input.payloads;
        return {
          encoding: Buffer.from(payload!.metadata.encoding!, 'base64').toString(),
          data: Buffer.from(payload!.data, 'base64').toString('latin1'),
        };
      };
      const raw = startInput(await show());
      assert.equal(raw.encoding, 'binary/encrypted', 'without the codec the CLI shows the stored ciphertext');
      assert.ok(!raw.data.includes(secret));
      const decoded = startInput(await show('--codec-endpoint', endpoint));
      assert.equal(decoded.encoding, 'json/plain');
      assert.ok(decoded.data.includes(secret), 'with the codec endpoint the CLI shows the input decoded');
    } finally {
      await codecServer.close();
    }
  });
});
