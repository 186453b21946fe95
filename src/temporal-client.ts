/**
 * The composition root's Temporal side, apart from src/dependencies.ts so the model server never loads Temporal: the
 * one place a process builds its Temporal client — the configured connection (address, TLS/mTLS, API key from
 * @temporalio/envconfig) and the payload codec when `MLOPS_PAYLOAD_KEYS` is set.
 */
import { Client, Connection } from '@temporalio/client';
import { payloadDataConverter } from './codec/payload-codec';
import type { MlopsConfig } from './config';
import { mlopsError } from './errors';

export interface TemporalClient {
  client: Client;
  /** Closes the client's connection. */
  close(): Promise<void>;
}

export async function connectTemporalClient(config: Readonly<MlopsConfig>): Promise<TemporalClient> {
  const connection = await connect(config);
  const dataConverter = payloadDataConverter(config.codec.keys);
  const client = new Client({
    connection,
    namespace: config.temporal.namespace,
    ...(dataConverter ? { dataConverter } : {}),
  });
  return { client, close: () => connection.close() };
}

/** The configured connection; a server that does not answer is a catalogued error naming the address. */
async function connect(config: Readonly<MlopsConfig>): Promise<Connection> {
  const options = config.temporal.connectionOptions;
  try {
    return await Connection.connect(options);
  } catch (err) {
    throw temporalUnreachable(config, err);
  }
}

/** A connection to the configured Temporal server that failed (client or worker), as the catalogued error. */
export function temporalUnreachable(config: Readonly<MlopsConfig>, err: unknown): Error {
  return mlopsError('MLOPS_ERR_TEMPORAL_UNREACHABLE', {
    address: config.temporal.connectionOptions.address ?? 'localhost:7233',
    reason: (err as Error).message,
  });
}
