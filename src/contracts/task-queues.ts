/** Task queue names, in one place. Workers poll them; workflows route activities to them. */
export const taskQueues = {
  /** Workflows and CPU activities (ingest, profile, preprocess, evaluate, register, deploy). */
  pipeline: 'mlops-pipeline',
  /** Training activities only, on machines with GPUs (or the CPU fallback). */
  training: 'mlops-training',
} as const;
