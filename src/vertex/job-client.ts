/**
 * The Vertex AI JobService client and its calls, with gRPC failures mapped onto the error catalogue: a wrong request,
 * a missing resource or missing permissions cannot succeed on retry; anything else (UNAVAILABLE, DEADLINE_EXCEEDED,
 * INTERNAL, RESOURCE_EXHAUSTED, …) is a plain Error that Temporal retries.
 */
import type { JobServiceClient, protos } from '@google-cloud/aiplatform';
import { credentials, status } from '@grpc/grpc-js';
import type { MlopsConfig } from '../config';
import { mlopsError } from '../errors';
import { aiplatform } from './aiplatform';

export type CustomJob = protos.google.cloud.aiplatform.v1.ICustomJob;

/** Per-call deadline of JobService calls (the client's default is 60 s, longer than a short poll interval). */
const callTimeoutMs = 30_000;

/**
 * The JobService client for the configured endpoint: `http://host:port` is a plaintext local server (the gRPC fake in
 * tests), anything else the regional Vertex AI endpoint with Application Default Credentials.
 */
export function createVertexJobClient(vertex: MlopsConfig['vertex']): JobServiceClient {
  const { project, location, apiEndpoint } = vertex;
  const { JobServiceClient } = aiplatform();
  const local = /^http:\/\/([^/:]+):(\d+)\/?$/.exec(apiEndpoint ?? '');
  if (local) {
    return new JobServiceClient({
      apiEndpoint: local[1],
      port: Number(local[2]),
      sslCreds: credentials.createInsecure(),
      projectId: project,
      // Stated, so google-auth-library does not probe the GCE metadata server for it (there are no credentials).
      universeDomain: 'googleapis.com',
    });
  }
  return new JobServiceClient({
    apiEndpoint: apiEndpoint?.replace(/^https:\/\//, '').replace(/\/+$/, '') ?? `${location}-aiplatform.googleapis.com`,
    projectId: project,
  });
}

/** The JobService calls training uses, each with the deadline and the error mapping. */
export class VertexJobs {
  constructor(private readonly client: () => JobServiceClient) {}

  async create(parent: string, customJob: CustomJob): Promise<CustomJob> {
    const [job] = await vertexCall(
      'createCustomJob',
      parent,
      this.client().createCustomJob({ parent, customJob }, { timeout: callTimeoutMs }),
    );
    return job;
  }

  /** The jobs of a parent carrying a label value. */
  async findByLabel(parent: string, label: string, value: string): Promise<CustomJob[]> {
    const [found] = await vertexCall(
      'listCustomJobs',
      parent,
      this.client().listCustomJobs({ parent, filter: `labels.${label}="${value}"` }, { timeout: callTimeoutMs }),
    );
    return found;
  }

  async get(name: string): Promise<CustomJob> {
    const [job] = await vertexCall(
      'getCustomJob',
      name,
      this.client().getCustomJob({ name }, { timeout: callTimeoutMs }),
    );
    return job;
  }

  async cancel(name: string): Promise<void> {
    await vertexCall('cancelCustomJob', name, this.client().cancelCustomJob({ name }, { timeout: callTimeoutMs }));
  }
}

async function vertexCall<T>(operation: string, resource: string, call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const reason = (err as { details?: string }).details || (err as Error).message;
    const params = { operation, resource, reason };
    if (code === status.NOT_FOUND) throw mlopsError('MLOPS_ERR_VERTEX_NOT_FOUND', params, err as Error);
    if (code === status.PERMISSION_DENIED || code === status.UNAUTHENTICATED)
      throw mlopsError('MLOPS_ERR_VERTEX_PERMISSION_DENIED', params, err as Error);
    if (code === status.INVALID_ARGUMENT || code === status.FAILED_PRECONDITION || code === status.OUT_OF_RANGE)
      throw mlopsError('MLOPS_ERR_VERTEX_REQUEST_INVALID', params, err as Error);
    throw new Error(`Vertex AI ${operation} on ${resource} failed: ${(err as Error).message}`, { cause: err });
  }
}
