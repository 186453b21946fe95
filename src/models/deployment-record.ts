/**
 * The deployment record a model server follows: which version takes the traffic (`stable`) and, optionally, a canary
 * version taking a fraction of it. Written by the deploy step; read by every server of the model. When a model has
 * no record, the server follows the registry alias alone (`{ stable: alias.version }`).
 */
import type { ArtifactStore } from '../artifacts';
import { readJson, writeJson } from '../artifacts';
import { readAlias } from '../registry/model-registry';
import { deploymentRecord } from '../artifacts/layout';

export interface DeploymentRecord {
  stable: number;
  /** A canary version and the fraction of requests (0–1) it answers; requests with the same id go to the same side. */
  canary?: { version: number; weight: number };
  updatedAt: string;
}

/** The record for `alias`, or one made from the alias itself; undefined when neither exists. */
export async function readDeployment(
  store: ArtifactStore,
  model: string,
  alias: string,
): Promise<DeploymentRecord | undefined> {
  const uri = deploymentRecord(store, model, alias);
  if (await store.exists(uri)) return readJson<DeploymentRecord>(store, uri);
  const record = await readAlias(store, model, alias);
  return record ? { stable: record.version, updatedAt: record.updatedAt } : undefined;
}

export async function writeDeployment(
  store: ArtifactStore,
  model: string,
  alias: string,
  record: Omit<DeploymentRecord, 'updatedAt'>,
): Promise<DeploymentRecord> {
  const full = { ...record, updatedAt: new Date().toISOString() };
  await writeJson(store, deploymentRecord(store, model, alias), full);
  return full;
}
