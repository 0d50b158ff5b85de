import { constants, accessSync, mkdirSync } from 'node:fs';
import { OutputDirError } from './errorCodes';

/**
 * Creates the output directory and checks it is writable, before any work: a run that would only
 * fail at the end, when it writes its report, fails at once with bad input instead.
 */
export function prepareOutDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
  } catch (err) {
    throw new OutputDirError(dir, err);
  }
}
