/**
 * Failing spells of the store calls one user makes (a node, the delivery worker, the hand-off tracker):
 * the first failure of a spell is reported, the ones after it are not (a timer retrying every few seconds
 * must not log every tick), and the spell ends, reported once too, when every source that failed works
 * again. Under WAL, readers never wait for another process's write lock: a read that works while writes
 * fail does not end a spell that a write began.
 */
export type StoreCall = 'read' | 'write';

export interface SpellReport {
  /** A spell begins: the first error. */
  failing(error: unknown): void;
  /** The spell is over: every source that failed has worked again. */
  recovered(): void;
}

export class StoreSpell {
  private readonly failingSources = new Map<string, StoreCall>();

  constructor(private readonly report: SpellReport) {}

  get failing(): boolean {
    return this.failingSources.size > 0;
  }

  failed(error: unknown, source = '', call: StoreCall = 'write'): void {
    const first = this.failingSources.size === 0;
    if (this.failingSources.get(source) !== 'write') this.failingSources.set(source, call);
    if (first) this.report.failing(error);
  }

  worked(source = '', call: StoreCall = 'write'): void {
    const failed = this.failingSources.get(source);
    if (failed === undefined || (call === 'read' && failed === 'write')) return;
    this.failingSources.delete(source);
    if (this.failingSources.size === 0) this.report.recovered();
  }
}
