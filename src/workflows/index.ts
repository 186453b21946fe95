export { monitorModel } from './monitor-model';
export { trainingPipeline } from './training-pipeline';
export { modelController } from './model-controller';
