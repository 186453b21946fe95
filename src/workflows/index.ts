export { monitorModel } from './monitor-model';
export { trainingPipeline } from './training-pipeline';
