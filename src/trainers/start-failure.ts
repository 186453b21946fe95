/** What a trainer process that cannot even start (spawn fails) means for the run. */
import { mlopsError } from '../errors';

/**
 * A missing or non-executable trainer program is a setup problem that no retry fixes: a catalogued, non-retryable
 * error naming the program and the setup command. Other spawn errors (EAGAIN, ENOMEM) stay plain, retryable errors.
 */
export function trainerStartFailure(program: string, err: NodeJS.ErrnoException): Error {
  if (err.code !== 'ENOENT' && err.code !== 'EACCES') return err;
  const reason = err.code === 'ENOENT' ? 'the program does not exist' : 'the program is not executable';
  return mlopsError('MLOPS_ERR_TRAIN_COMMAND_NOT_FOUND', { trainer: program, reason });
}
