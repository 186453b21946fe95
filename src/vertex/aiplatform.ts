/**
 * `@google-cloud/aiplatform`, loaded on first use. Loading it takes about half a second (its generated protobuf
 * code), which every process that imports the composition root would otherwise pay at start whether or not it trains
 * on Vertex AI: the model server and each of its workers, the pipeline worker, the CLIs.
 */
import type * as Aiplatform from '@google-cloud/aiplatform';

let loaded: typeof Aiplatform | undefined;

export function aiplatform(): typeof Aiplatform {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use (see above)
  return (loaded ??= require('@google-cloud/aiplatform') as typeof Aiplatform);
}
