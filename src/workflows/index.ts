export { monitorModel } from './monitor-model';
export { requestRetrain } from './request-retrain';
export { trainingPipeline } from './training-pipeline';
export { modelController } from './model-controller';
