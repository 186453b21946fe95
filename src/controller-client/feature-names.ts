/**
 * The feature names `start --muted` and `unmute` are checked against, read from the registry the CLI already reads
 * (MLOPS_ARTIFACT_ROOT): the controller's `mute` validator refuses a feature its stable version or canary does not
 * take, but its `unmute` answers "unmuted" for any name, and its start drops unknown muted names (recording them in its
 * history). These checks give both the same refusal as `mute`, from the command line, with the model's features.
 */
import type { ArtifactStore } from '../artifacts';
import { readJson } from '../artifacts';
import type { FittedTransform } from '../contracts/datasets';
import { namesText, quoteText } from '../contracts/message-text';
import { readAlias, readVersion } from '../registry/model-registry';

/** The features `versions` take, or undefined when the registry cannot be read (then nothing is checked). */
async function featuresOf(store: ArtifactStore, modelName: string, versions: number[]): Promise<string[] | undefined> {
  try {
    const known = new Set<string>();
    for (const version of new Set(versions)) {
      const record = await readVersion(store, modelName, version);
      for (const { name } of (await readJson<Pick<FittedTransform, 'features'>>(store, record.transformUri)).features)
        known.add(name);
    }
    return [...known];
  } catch {
    return undefined;
  }
}

/**
 * Why `names` cannot be muted on the versions given (`v2 takes no feature "x"; the features are …`, as `mute` says),
 * or undefined when every name is a feature, nothing is deployed, or the registry cannot be read.
 */
export async function unknownFeatures(
  store: ArtifactStore,
  modelName: string,
  versions: number[],
  names: string[],
): Promise<string | undefined> {
  if (versions.length === 0 || names.length === 0) return undefined;
  const known = await featuresOf(store, modelName, versions);
  const unknown = names.filter((name) => known && !known.includes(name));
  if (!known || unknown.length === 0) return undefined;
  const which = [...new Set(versions)].map((v) => `v${v}`);
  return (
    `${which.join(' and ')} ${which.length > 1 ? 'take' : 'takes'} no feature ` +
    `${unknown.map((name) => quoteText(name)).join(', ')}; the features are ${namesText(known, 20)}`
  );
}

/** The version the alias serves now, or undefined when it has none or the registry cannot be read. */
export async function aliasVersion(
  store: ArtifactStore,
  modelName: string,
  alias: string,
): Promise<number | undefined> {
  try {
    return (await readAlias(store, modelName, alias))?.version;
  } catch {
    return undefined;
  }
}
