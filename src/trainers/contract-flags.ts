/** The command-line flags of docs/trainer-contract.md, built in one place for every backend. */
import type { TrainerJob } from '../contracts/training';

export interface ContractFlagValues {
  train: string;
  validation: string;
  transform: string;
  output: string;
  task: 'classification' | 'regression';
  labelColumn: string;
  featureColumns: string[];
  hyperparameters: Record<string, number | string | boolean>;
  seed: number;
  resumeFrom?: string;
}

/**
 * A column name inside the comma-separated `--feature-columns`: `%` and `,` percent-encoded (`%25`, `%2C`), so a
 * one-hot column of a category such as "Oslo, NO" stays one name. Names without either are passed as they are;
 * trainers decode each name with any URL-decoding function (docs/trainer-contract.md).
 */
export function encodeColumnName(name: string): string {
  return name.replace(/%/g, '%25').replace(/,/g, '%2C');
}

/** The inverse of {@link encodeColumnName} for a whole `--feature-columns` value. */
export function decodeColumnNames(value: string): string[] {
  return value.split(',').map((name) => name.replace(/%2C/gi, ',').replace(/%25/g, '%'));
}

export function trainerContractFlags(values: ContractFlagValues): string[] {
  const flags = [
    ['--train', values.train],
    ['--validation', values.validation],
    ['--transform', values.transform],
    ['--output', values.output],
    ['--task', values.task],
    ['--label-column', values.labelColumn],
    ['--feature-columns', values.featureColumns.map(encodeColumnName).join(',')],
    ['--hyperparameters', JSON.stringify(values.hyperparameters)],
    ['--seed', String(values.seed)],
  ];
  if (values.resumeFrom) flags.push(['--resume-from', values.resumeFrom]);
  return flags.flat();
}

/**
 * The flags of one training run. `readable` turns an input URI into one the trainer can open (a `file://` URL for a
 * local store; remote trainers get the URIs as they are).
 */
export function runFlags(
  run: TrainerJob,
  hyperparameters: ContractFlagValues['hyperparameters'],
  where: { output: string; resumeFrom?: string; readable?: (uri: string) => string },
): string[] {
  const readable = where.readable ?? ((uri: string) => uri);
  return trainerContractFlags({
    train: readable(run.trainUri),
    validation: readable(run.validationUri),
    transform: readable(run.transformUri),
    output: where.output,
    task: run.task,
    labelColumn: run.labelColumn,
    featureColumns: run.featureColumns,
    hyperparameters,
    seed: run.seed,
    resumeFrom: where.resumeFrom,
  });
}
