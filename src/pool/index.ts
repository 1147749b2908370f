/**
 * The worker pool (placeholder: the piscina implementation replaces this file).
 */
import type { Config } from '../config/schema.js';
import { syError } from '../errors.js';
import type { JobRunner } from '../handlers/context.js';
import type { Logs } from '../observe/log.js';

export class JobPool implements JobRunner {
  static async start(_config: Config, _routesDir: string, _logs: Logs): Promise<JobPool> {
    return new JobPool();
  }

  run<T>(name: string): Promise<T> {
    return Promise.reject(syError('SY_ERR_UNKNOWN_JOB', `job "${name}": pool not implemented`));
  }

  async close(): Promise<void> {}
}
