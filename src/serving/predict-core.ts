/**
 * The one handler core every predict route calls (Vertex AI, KServe V1, Open Inference Protocol v2): the request's
 * limits, the version the request is routed to (stable or canary, sticky per request id) and pinned to, the
 * Predictor, and the prediction log. Routes only translate wire formats.
 */
import { mlopsError } from '../errors';
import { quoteText } from '../contracts/message-text';
import type { Prediction } from '../models/predictor';
import { newRecordedValues } from '../models/recorded-values';
import type { LoadedVersion, ModelSlot } from './model-slot';
import type { ServingMetrics } from './metrics';
import type { PredictionLog } from './prediction-log';

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

export interface PredictJsonOutcome {
  version: number;
  /** Each prediction as JSON text. */
  predictions: string[];
}

export interface PredictContext {
  requestId: string;
  /** A version named in the path (`/v2/models/{m}/versions/{v}`); otherwise the routing table decides. */
  version?: string;
  /** Set by `predict` to the version that answered, so metrics and headers can name it. */
  answeredBy?: number;
}

export class PredictCore {
  constructor(
    readonly slot: ModelSlot,
    readonly limits: ServeLimits,
    readonly log?: PredictionLog,
    readonly metrics?: ServingMetrics,
  ) {}

  get modelName(): string {
    return this.slot.modelName;
  }

  /**
   * Throws MLOPS_ERR_SERVE_MODEL_NOT_SERVED (404), naming what this server does serve, unless `name` (and `version`,
   * when given) is served here.
   */
  checkModel(name: string, version?: string): LoadedVersion {
    const loaded = name === this.slot.modelName ? this.#resolve(version) : undefined;
    if (!loaded) {
      const { stable, canary } = this.slot.routing;
      const served = [stable, canary?.version].filter((v) => v !== undefined).map((v) => `v${v}`);
      throw mlopsError('MLOPS_ERR_SERVE_MODEL_NOT_SERVED', {
        model: quoteText(name),
        version: version === undefined ? '' : ` version ${quoteText(version)}`,
        served: this.slot.modelName,
        versions:
          served.length > 0 ? `version${served.length > 1 ? 's' : ''} ${served.join(' and ')}` : 'no version yet',
      });
    }
    return loaded;
  }

  checkCount(count: number): void {
    if (count === 0)
      throw mlopsError('MLOPS_ERR_SERVE_INPUT_INVALID', { problems: '"instances" is empty; send at least one' });
    if (count > this.limits.maxInstances)
      throw mlopsError('MLOPS_ERR_SERVE_TOO_MANY_INSTANCES', { count, limit: this.limits.maxInstances });
  }

  /**
   * The version that answers a request: the one its path names, else the canary or the stable version by the request
   * id's bucket. Routes that need the version's schema before predicting (OIP v2 decodes inputs by its feature names)
   * route first and pass the result to `predict`, so decoding and answering use the same version.
   */
  route(name: string, ctx: PredictContext): LoadedVersion {
    const pinned = this.checkModel(name, ctx.version);
    return ctx.version === undefined ? (this.slot.pick(ctx.requestId) ?? pinned) : pinned;
  }

  async predict(
    name: string,
    instances: readonly unknown[],
    ctx: PredictContext,
    chosen: LoadedVersion = this.route(name, ctx),
  ): Promise<PredictOutcome> {
    const output = await this.#answer(chosen, instances, ctx);
    return { version: chosen.version, predictions: chosen.predictor.decode(output, instances.length) };
  }

  /** As `predict`, each prediction as its JSON text, built straight from the model output (for the JSON routes). */
  async predictJson(
    name: string,
    instances: readonly unknown[],
    ctx: PredictContext,
    chosen: LoadedVersion = this.route(name, ctx),
  ): Promise<PredictJsonOutcome> {
    const output = await this.#answer(chosen, instances, ctx);
    return { version: chosen.version, predictions: chosen.predictor.encodeJson(output, instances.length) };
  }

  /** Runs the request on its version and logs it; the raw output, for the route's encoding. */
  async #answer(chosen: LoadedVersion, instances: readonly unknown[], ctx: PredictContext): Promise<Float32Array> {
    ctx.answeredBy = chosen.version;
    this.checkCount(instances.length);
    this.metrics?.observeBatch(instances.length);
    const started = process.hrtime.bigint();
    // The log takes the raw values the transform records as it validates (no second pass over the instances); a full
    // log would drop them, so they are not recorded.
    const { log } = this;
    const rows = instances.length;
    const recorded = log && !log.full ? newRecordedValues(rows, chosen.predictor.features.length) : undefined;
    const output = await this.slot.use(chosen, (loaded) => loaded.predictor.score(instances, recorded));
    const latencyMs = Number(process.hrtime.bigint() - started) / 1e6;
    log?.record(this.modelName, chosen.version, ctx.requestId, chosen.predictor, rows, recorded, output, latencyMs);
    return output;
  }

  #resolve(version: string | undefined): LoadedVersion | undefined {
    if (version === undefined) return this.slot.current;
    // A version as the registry numbers it: "01" or "1.0" names none.
    return /^[1-9][0-9]{0,8}$/.test(version) ? this.slot.find(Number(version)) : undefined;
  }
}
