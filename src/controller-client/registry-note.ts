/**
 * The note `npm run models -- start` and `npm run monitoring -- schedule` print for a model that has no version in
 * the registry yet: a controller or a schedule may come before the first training, but it is also what a typo in the
 * model name looks like, so the note names the models that are registered.
 */
import type { ArtifactStore } from '../artifacts';
import { namesText } from '../contracts/message-text';
import { listModels, listVersions } from '../registry/model-registry';

/** The note, or undefined when the model has a version, or when the registry cannot be read (nothing to add then). */
export async function unregisteredModelNote(store: ArtifactStore, modelName: string): Promise<string | undefined> {
  const unregistered = await unregisteredModelText(store, modelName);
  return (
    unregistered &&
    `Note: ${unregistered}. The controller was started anyway: it waits for its first retrain or deployment.`
  );
}

/**
 * `no version of model "…" is registered in <root> yet (a typo in the model name?); the models registered there are
 * …` (or that none is): the start of each note. Undefined when the model has a version, or when the registry cannot
 * be read.
 */
export async function unregisteredModelText(store: ArtifactStore, modelName: string): Promise<string | undefined> {
  try {
    if ((await listVersions(store, modelName)).length > 0) return undefined;
    const models = await listModels(store);
    const registered = models.length
      ? `the models registered there are ${namesText(models, 20)}`
      : 'no model is registered there yet';
    return `no version of model "${modelName}" is registered in ${store.root} yet (a typo in the model name?); ${registered}`;
  } catch {
    return undefined;
  }
}
