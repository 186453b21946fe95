export { trainingPipeline } from './training-pipeline';
