/**
 * What each TLS engine serves, so that a reload hands an engine new material only when its files
 * changed: on uWS a swap replaces the listening socket (src/server/uws/engine.ts `reloadTls`), which
 * an unchanged certificate must not cost. Test: test/ops/tls-reload.test.ts.
 */
import type { ListenConfig } from '../config/schema.js';
import { loadTls, type TlsMaterial } from '../tls/load.js';
import type { Engine } from './engine.js';

export class TlsServed {
  /** engine → its material as JSON (paths and PEM contents) */
  private readonly served = new Map<Engine, string>();

  /** `engine` now serves `tls`. */
  serving(engine: Engine, tls: TlsMaterial): void {
    this.served.set(engine, JSON.stringify(tls));
  }

  /**
   * Read the files of every TLS listener in `listen` that is open (`engineOf`), then hand each
   * engine whose material changed the new one. A file that cannot be read rejects before any
   * engine changes.
   */
  async reload(listen: ListenConfig[], engineOf: (l: ListenConfig) => Engine | undefined): Promise<void> {
    const todo: { engine: Engine; tls: TlsMaterial }[] = [];
    for (const [i, l] of listen.entries()) {
      if (l.kind !== 'http' || l.tls === undefined) continue;
      const engine = engineOf(l);
      if (engine?.reloadTls === undefined) continue;
      let tls: TlsMaterial;
      try {
        tls = loadTls(l.tls);
      } catch (err) {
        throw new Error(`listen[${i}].tls: ${(err as Error).message}`);
      }
      if (this.served.get(engine) !== JSON.stringify(tls)) todo.push({ engine, tls });
    }
    for (const t of todo) {
      await t.engine.reloadTls!(t.tls);
      this.serving(t.engine, t.tls);
    }
  }
}
