/** Errors of distributed training: MPI missing, a job started wrongly, ranks that disagree. */
import { MmctrError } from '../util/errors.js';

export class DistributedError extends MmctrError {}
