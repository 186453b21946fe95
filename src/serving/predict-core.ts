/**
 * The one handler core every predict route calls (Vertex AI, KServe V1, Open Inference Protocol v2): the request's
 * limits, the version pinned for the request, the Predictor. Routes only translate wire formats.
 */
import { mlopsError } from '../errors';
import type { Prediction } from '../models/predictor';
import type { LoadedVersion, ModelSlot } from './model-slot';

export interface ServeLimits {
  /** Bytes of request body. */
  bodyLimit: number;
  /** Instances (rows) per request. */
  maxInstances: number;
}

export interface PredictOutcome {
  version: number;
  predictions: Prediction[];
}

export class PredictCore {
  constructor(
    readonly slot: ModelSlot,
    readonly limits: ServeLimits,
  ) {}

  get modelName(): string {
    return this.slot.modelName;
  }

  /** Throws MLOPS_ERR_REGISTRY_NOT_FOUND (404) unless `name` (and `version`, when given) is served here. */
  checkModel(name: string, version?: string): LoadedVersion {
    const loaded = this.slot.current;
    if (name !== this.slot.modelName || !loaded)
      throw mlopsError('MLOPS_ERR_REGISTRY_NOT_FOUND', { model: name, what: 'deployment on this server' });
    if (version !== undefined && version !== String(loaded.version))
      throw mlopsError('MLOPS_ERR_REGISTRY_NOT_FOUND', { model: name, what: `version ${version} on this server` });
    return loaded;
  }

  checkCount(count: number): void {
    if (count === 0)
      throw mlopsError('MLOPS_ERR_SERVE_INPUT_INVALID', { problems: '"instances" is empty; send at least one' });
    if (count > this.limits.maxInstances)
      throw mlopsError('MLOPS_ERR_SERVE_TOO_MANY_INSTANCES', { count, limit: this.limits.maxInstances });
  }

  async predict(name: string, instances: readonly unknown[], version?: string): Promise<PredictOutcome> {
    this.checkModel(name, version);
    this.checkCount(instances.length);
    return this.slot.use(async (loaded) => ({
      version: loaded.version,
      predictions: await loaded.predictor.predict(instances),
    }));
  }
}
