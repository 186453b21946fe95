/** What a trainer process that cannot even start (spawn fails) means for the run. */
import { mlopsError } from '../errors';

/**
 * A missing or non-executable trainer program is a setup problem that no retry fixes: a catalogued, non-retryable
 * error naming the program and the setup command. Other spawn errors (EAGAIN, ENOMEM) stay plain, retryable errors.
 */
export function trainerStartFailure(program: string, err: NodeJS.ErrnoException): Error {
  if (err.code === 'E2BIG')
    return mlopsError('MLOPS_ERR_TRAIN_ARGUMENTS_TOO_LONG', {
      trainer: program,
      reason: 'the system refused its arguments and environment as too long (E2BIG)',
    });
  if (err.code !== 'ENOENT' && err.code !== 'EACCES') return err;
  const reason = err.code === 'ENOENT' ? 'the program does not exist' : 'the program is not executable';
  return mlopsError('MLOPS_ERR_TRAIN_COMMAND_NOT_FOUND', { trainer: program, reason });
}

/** Linux's limit on one argument of a program (MAX_ARG_STRLEN: 32 pages), its terminating zero byte included. */
const maxArgumentBytes = 128 * 1024;
/** Linux's limit on the arguments and environment together (a quarter of the usual 8 MiB stack), with room to spare. */
const maxCommandLineBytes = 2 * 1024 * 1024 - 64 * 1024;

/**
 * Why the system would refuse to start the trainer with these arguments and environment (spawn's E2BIG, which no
 * retry mends), naming the longest argument and its flag; undefined when they fit.
 */
export function commandLineTooLong(argv: readonly string[], env: NodeJS.ProcessEnv): string | undefined {
  const bytes = (text: string) => Buffer.byteLength(text) + 1;
  let longest = 0;
  for (let i = 1; i < argv.length; i++) if (bytes(argv[i]!) > bytes(argv[longest]!)) longest = i;
  const flag = argv[longest - 1]?.startsWith('--') ? `${argv[longest - 1]}'s value` : `argument ${longest}`;
  const size = `${flag} is ${bytes(argv[longest]!).toLocaleString('en-US')} bytes`;
  if (bytes(argv[longest]!) > maxArgumentBytes)
    return `${size}, over the ${maxArgumentBytes.toLocaleString('en-US')} bytes Linux takes in one argument`;
  const environment = Object.entries(env).reduce((sum, [k, v]) => sum + bytes(`${k}=${v ?? ''}`), 0);
  const total = argv.reduce((sum, a) => sum + bytes(a), environment);
  if (total > maxCommandLineBytes)
    return `its arguments and environment are ${total.toLocaleString('en-US')} bytes (${size}), over the ${maxCommandLineBytes.toLocaleString('en-US')} bytes Linux takes in all`;
  return undefined;
}
