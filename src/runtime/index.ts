/**
 * Structured concurrency on AbortSignal (Lwt's `pick` and timeouts, Eio's `Switch.run`).
 * A leaf: imports only node builtins. Semantics: the "Runtime" section of README.md; the Node 20
 * AbortSignal pitfalls it avoids: docs/node.md.
 */
export { all, both } from './all.js';
export { any } from './any.js';
export { now } from './clock.js';
export { Cancelled, isCancellation, TimeoutError } from './errors.js';
export { Link, link } from './link.js';
export { onCancel } from './on-cancel.js';
export { pick } from './pick.js';
export { type RaceOptions, reportLateError } from './report.js';
export { type Finalizer, openScope, RequestScope, type Scope, type ScopeOptions } from './request-scope.js';
export { scope } from './scope.js';
export { sleep } from './sleep.js';
export { withDeadline, withTimeout } from './timeout.js';
export type { Work } from './work.js';
