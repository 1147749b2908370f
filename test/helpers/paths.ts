/** Folders of test fixtures, absolute. */
import { join } from 'node:path';
import { packageRoot } from '../../src/config/load.js';

/** handler modules for `handler:` routes (they import dist/src/api.js) */
export const HANDLERS = join(packageRoot, 'test', 'fixtures', 'handlers');
/** a `routes_dir` with jobs for the worker pool (loaded by the workers from here) */
export const ROUTES = join(packageRoot, 'test', 'fixtures', 'routes');
/** the project's own routes/, as built */
export const BUILT_ROUTES = join(packageRoot, 'dist', 'routes');
