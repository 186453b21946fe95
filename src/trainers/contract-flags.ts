/** The command-line flags of docs/trainer-contract.md, built in one place for every backend. */

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

export function trainerContractFlags(values: ContractFlagValues): string[] {
  const flags = [
    ['--train', values.train],
    ['--validation', values.validation],
    ['--transform', values.transform],
    ['--output', values.output],
    ['--task', values.task],
    ['--label-column', values.labelColumn],
    ['--feature-columns', values.featureColumns.join(',')],
    ['--hyperparameters', JSON.stringify(values.hyperparameters)],
    ['--seed', String(values.seed)],
  ];
  if (values.resumeFrom) flags.push(['--resume-from', values.resumeFrom]);
  return flags.flat();
}
