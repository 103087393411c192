/**
 * End-to-end hand-off: an acknowledged event counts as handed on only when every message derived from it
 * has finished in the flow, never after a fixed age. The runtime glue (nodes/handoff-hooks.ts) feeds
 * this class from Node-RED's messaging hooks; it knows nothing of Node-RED itself:
 *   - a receiver emits through emit(): each message gets a fresh `_msgid`, mapped to its event;
 *   - sent(): a message left for a node (one per wire; the instance it will reach, or none when the
 *     runtime has nowhere to deliver it, as while a deploy replaces that node: then it is lost); a node
 *     that takes no `done` finishes with it when its handler returns, so only what it sends on counts;
 *   - completed(): the node called `done`. Messages the runtime hands straight to a node (catch,
 *     complete, link in) are not counted themselves: those nodes pass them on before they call done,
 *     synchronously, so what they send is counted before the message they got finishes. Two hooks
 *     (onSend, onComplete) are all it takes, which keeps the cost for every other message low;
 *   - a dispatch node that could not queue it (done(err)) keeps the event pending: the message is
 *     handed to that node again once the store takes writes again (one probe at a time, backing off);
 *   - after each deploy (flowsStarted()) a message held by a node that no longer runs is lost; every
 *     event with a lost message, and every stored event not handed on that nobody tracks (after a
 *     restart), is emitted again by its receiver, flagged `redelivered`. Dispatch outboxes are keyed by
 *     (subscriber, event), so emitting again never doubles a delivery.
 * When the last message of an event finishes, the receiver's store marks it handed on (batched).
 * A message held by one node longer than `stuckMs` counts as finished there (nodes that never call
 * `done`), reported once per node.
 */
import type { ReceivedEvent } from '../receiver';
import type { InboxStore } from '../store/store-contract';
import { StoreSpell } from '../store/store-spell';

/**
 * What the tracker needs of a receiver's store: its part of the store contract. The store answers later
 * (asynchronously): whatever changed meanwhile (a deploy, the event finished) is looked at again then.
 */
export type HandoffStore = Pick<InboxStore, 'pendingInbox' | 'pendingMessage' | 'markHanded'> & Partial<Pick<InboxStore, 'adoptOrphaned'>>;

/** A receiver's way into the flow: `stamp` each message right before sending it. */
export interface HandoffReceiver {
  /** The receiver's durable inbox; undefined while it has none. */
  store(): HandoffStore | undefined;
  /** Sends the message on (stamped); false when it has nowhere to send it now (no node listening). */
  emit(message: ReceivedEvent, stamp: (msg: ReceivedEvent) => ReceivedEvent): boolean;
  /** Told how many of its events it has just emitted again. */
  reemitted?(count: number): void;
}

export interface TrackerHost {
  /** The running node with this id (undefined when none runs). */
  liveNode(id: string): object | undefined;
  newMsgId(): string;
  now(): number;
  /** Called when the tracker starts and stops having messages to follow (hooks on / off). */
  watching(on: boolean): void;
  /** A node held an event's message past the limit (reported once per node). */
  stuck(nodeId: string, nodeType: string, seconds: number): void;
  /** A deploy removed a receiver while events of it were still in the flow; their rows stay in the store. */
  orphaned(receiver: string, count: number): void;
  /** Reading or marking events failed (the store is failing); once per failing spell. */
  markFailed(error: unknown): void;
  /** The store works again after markFailed (once per spell). */
  storeRecovered?(): void;
}

export interface NodeRef {
  id: string;
  type: string;
  instance: object;
}

interface Slot {
  node: NodeRef;
  /** Messages sent to the node (or being received) that it has not reported done (or passed on) yet. */
  count: number;
  since: number;
  /** The node takes no `done` (core switch, subflow instances): it is finished once it passes a message on. */
  noDone: boolean;
}

/** A done() reported while a deploy is under way: it counts only if its node is still running afterwards. */
interface DoneDuringDeploy {
  msgid: string;
  node: NodeRef;
  error: unknown;
  dispatch: boolean;
  msg: ReceivedEvent | undefined;
}

interface Failed {
  node: NodeRef;
  msg: ReceivedEvent;
}

interface Entry {
  receiver: string;
  eventId: string;
  msgids: string[];
  slots: Map<object, Slot>;
  /** A message was dropped or held by a node that stopped: emit the event again once the flow runs. */
  lost: boolean;
  /** Messages a dispatch node could not queue: given to it again once the store takes writes. */
  failed: Failed[];
  /** done() calls seen between flows:stopping and flows:started (delay, join… call done for what they drop on close). */
  doneDuringDeploy: DoneDuringDeploy[];
}

export interface TrackerOptions {
  /** A message held by one node longer than this counts as finished there (read at every sweep). */
  stuckMs: () => number;
  settleDelayMs?: number;
  retryMinMs?: number;
  retryMaxMs?: number;
  sweepMs?: number;
  /**
   * How often each running receiver's store is asked to adopt the pending events of instances that died
   * (a store shared by several instances); default 5 s.
   */
  adoptEveryMs?: number;
  /** How long a node without `done` may keep a message it has not passed on (default NO_DONE_GRACE_MS). */
  noDoneGraceMs?: number;
}

/** A node without `done` that has not passed a message on after this long has filtered it out. */
export const NO_DONE_GRACE_MS = 10_000;
/** A node that reports done for other messages may hold one this long (a slow delay queue) before it counts. */
export const KNOWN_NODE_LIMIT_MS = 24 * 3_600_000;

/** How long a probe may take before the next one is tried anyway (its node may hang). */
const PROBE_WATCHDOG_MS = 30_000;

const entryKey = (receiver: string, eventId: string) => `${receiver}\u0000${eventId}`;

export class HandoffTracker {
  private readonly receivers = new Map<string, { receiver: HandoffReceiver; started: boolean }>();
  private readonly entries = new Map<string, Entry>();
  private readonly byMsgId = new Map<string, Entry>();
  /** Entries whose messages have all finished, waiting for their batched mark. */
  private readonly settling = new Set<Entry>();
  private settleTimer: NodeJS.Timeout | undefined;
  private readonly settleDelayMs: number;
  private markBackoffMs = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryMs: number;
  private readonly retryMinMs: number;
  private readonly retryMaxMs: number;
  private sweepTimer: NodeJS.Timeout | undefined;
  /** Receivers whose stored events could not be listed when they started (readPending). */
  private readonly unread = new Set<string>();
  private unreadTimer: NodeJS.Timeout | undefined;
  private readonly sweepMs: number;
  private adoptTimer: NodeJS.Timeout | undefined;
  private adopting = false;
  private readonly reportedStuck = new Set<string>();
  private on = false;
  /** Between flows:stopping and flows:started (and before the first start). */
  private deploying = true;
  /** Node instances that have reported done for a followed message: they hold messages for a reason. */
  private readonly known = new WeakSet<object>();
  /** The failed queueing handed to its dispatch node again, whose outcome decides the next wait. */
  private probe: ReceivedEvent | undefined;
  /** A pass of emitLost is under way (it waits for the store); another is asked for when it ends. */
  private emitting = false;
  private emitAgain = false;
  /** The store calls run from timers and runtime events: logged once per failing spell, and when it ends. */
  private readonly storeSpell: StoreSpell;

  constructor(
    private readonly host: TrackerHost,
    private readonly options: TrackerOptions,
  ) {
    this.settleDelayMs = options.settleDelayMs ?? 50;
    this.retryMinMs = options.retryMinMs ?? 1000;
    this.retryMaxMs = options.retryMaxMs ?? 30_000;
    this.retryMs = this.retryMinMs;
    this.sweepMs = options.sweepMs ?? 5000;
    this.storeSpell = new StoreSpell({ failing: (err) => host.markFailed(err), recovered: () => host.storeRecovered?.() });
  }

  /** How often held messages are checked against the limit: a fraction of it, at most every 5 s. */
  private get sweepEveryMs(): number {
    return Math.min(this.sweepMs, Math.max(50, this.options.stuckMs() / 4));
  }

  /** Events followed now (for tests and the status). */
  get size(): number {
    return this.entries.size;
  }

  // --- receivers ---------------------------------------------------------------------------------

  /** A receiver (re)starts under `key`: it emits once the flows have started (flowsStarted). */
  register(key: string, receiver: HandoffReceiver): void {
    this.receivers.set(key, { receiver, started: false });
  }

  /** The receiver under `key` stops; its events stay followed and wait for the next one of that key. */
  unregister(key: string, receiver: HandoffReceiver): void {
    if (this.receivers.get(key)?.receiver === receiver) this.receivers.delete(key);
  }

  /**
   * Emits a stored event through its receiver, followed until every message from it has finished.
   * A receiver that is not running yet (a deploy is under way) emits it once the flows have started.
   */
  emit(key: string, message: ReceivedEvent): void {
    const entry = this.entry(key, message.dingtalk.eventId);
    const registered = this.receivers.get(key);
    if (!registered?.started) {
      entry.lost = true;
      return;
    }
    this.send(entry, registered.receiver, message);
  }

  // --- what the runtime reports ------------------------------------------------------------------

  /** The tracker's entry for a message id, if it follows that message (cheap: called for every message). */
  follows(msgid: unknown): boolean {
    return typeof msgid === 'string' && this.byMsgId.has(msgid);
  }

  /** A deploy is stopping nodes: until flowsStarted, a message with nowhere to go is lost, not dropped. */
  flowsStopping(): void {
    this.deploying = true;
  }

  /**
   * A message left for `destination`; `completes` is false for a node that never calls `done`: such a
   * node is finished with it once it passes it on (passedOn), or NO_DONE_GRACE_MS later if it passes
   * nothing on (it filtered the message out; it cannot say so).
   */
  sent(msgid: string, destination: NodeRef | undefined, completes = true): void {
    const entry = this.byMsgId.get(msgid);
    if (!entry) return;
    if (!destination) {
      // No running node to deliver to. During a deploy that node is being replaced: the message is lost
      // and the event is emitted again. Otherwise the wire leads nowhere (a disabled node): finished.
      if (this.deploying) entry.lost = true;
      return;
    }
    const slot = this.slot(entry, destination);
    slot.count += 1;
    slot.since = this.host.now();
    if (!completes) slot.noDone = true;
  }

  /** A node sent a followed message on (once per send call): for a node without `done`, that finishes it. */
  passedOn(msgid: string, source: NodeRef): void {
    const entry = this.byMsgId.get(msgid);
    const slot = entry?.slots.get(source.instance);
    if (!entry || !slot?.noDone || slot.count === 0) return;
    slot.count -= 1;
    this.check(entry);
  }

  /** The node called done(err?). `dispatch` marks the hub's dispatch nodes, whose errors mean "not queued". */
  completed(msgid: string, node: NodeRef, error: unknown, dispatch: boolean, msg?: ReceivedEvent): void {
    const entry = this.byMsgId.get(msgid);
    if (!entry) return;
    if (this.deploying) {
      // A node being stopped calls done() for what it drops (a delay's queue, a join's parts): that is
      // no hand-off. Judged once the flows have started: only a node still running finished the message.
      entry.doneDuringDeploy.push({ msgid, node, error, dispatch, msg });
      return;
    }
    this.known.add(node.instance);
    const slot = entry.slots.get(node.instance);
    if (slot && slot.count > 0) slot.count -= 1;
    const failed = error !== undefined && error !== null && dispatch && msg !== undefined;
    if (failed) entry.failed.push({ node, msg });
    if (msg !== undefined && msg === this.probe) this.probed(!failed);
    else if (failed) this.scheduleRetry();
    this.check(entry);
  }

  /**
   * The flows (re)started after a deploy or at start-up: messages held by nodes that no longer run are
   * lost; receivers that start now pick up their stored events nobody follows; every event with a lost
   * message is emitted again.
   */
  flowsStarted(): void {
    this.deploying = false;
    for (const entry of [...this.entries.values()]) {
      const dones = entry.doneDuringDeploy;
      entry.doneDuringDeploy = [];
      for (const d of dones) {
        if (this.host.liveNode(d.node.id) === d.node.instance) this.completed(d.msgid, d.node, d.error, d.dispatch, d.msg);
        // otherwise its slot is judged below: a node that no longer runs did not hand the message on
      }
    }
    for (const entry of this.entries.values()) {
      for (const [instance, slot] of entry.slots) {
        if (slot.count === 0) entry.slots.delete(instance);
        else if (this.host.liveNode(slot.node.id) !== instance) {
          entry.slots.delete(instance);
          entry.lost = true;
        }
      }
      entry.failed = entry.failed.filter((f) => {
        if (this.host.liveNode(f.node.id) === f.node.instance) return true;
        entry.lost = true;
        return false;
      });
    }
    const reads: Promise<void>[] = [];
    for (const [key, registered] of this.receivers) {
      if (registered.started) continue;
      registered.started = true;
      reads.push(this.readPending(key, registered));
    }
    // A receiver deleted by this deploy: its stored rows stay for a receiver of that key to pick up.
    const orphans = new Map<string, number>();
    for (const entry of [...this.entries.values()]) {
      if (this.receivers.has(entry.receiver)) continue;
      orphans.set(entry.receiver, (orphans.get(entry.receiver) ?? 0) + 1);
      this.forget(entry);
    }
    for (const [receiver, count] of orphans) this.host.orphaned(receiver, count);
    this.startAdopting();
    this.emitLost();
    // The stored events nobody follows are emitted once the store has listed them (unless a deploy began).
    if (reads.length > 0) {
      void Promise.all(reads).then(() => {
        if (!this.deploying) this.emitLost();
      });
    }
  }

  /** Stops every timer (the runtime is going away); entries are kept for a later start. */
  stop(): void {
    for (const timer of [this.settleTimer, this.retryTimer, this.sweepTimer, this.unreadTimer, this.adoptTimer]) if (timer) clearTimeout(timer);
    this.settleTimer = this.retryTimer = this.sweepTimer = this.unreadTimer = this.adoptTimer = undefined;
  }

  // --- events of instances that died (a store shared by several instances) -------------------------

  private startAdopting(): void {
    if (this.adoptTimer) return;
    this.adoptTimer = setInterval(() => void this.adoptPass(), this.options.adoptEveryMs ?? 5000);
    this.adoptTimer.unref?.();
  }

  /**
   * Asks each running receiver's store to take over the pending events of instances that died before
   * handing them on; what it took over is listed and emitted like events found at a start. A store of a
   * single instance (SQLite) never has any. A failing store is tried again at the next pass.
   */
  private async adoptPass(): Promise<void> {
    if (this.adopting || this.deploying) return;
    this.adopting = true;
    try {
      const reads: Promise<void>[] = [];
      for (const [key, registered] of [...this.receivers]) {
        const store = registered.started ? registered.receiver.store() : undefined;
        if (!store?.adoptOrphaned) continue;
        let moved = 0;
        try {
          moved = await store.adoptOrphaned(key);
        } catch (err) {
          this.storeSpell.failed(err, '', 'read');
          continue;
        }
        if (moved > 0 && this.receivers.get(key) === registered) reads.push(this.readPending(key, registered));
      }
      if (reads.length > 0) {
        await Promise.all(reads);
        if (!this.deploying) this.emitLost();
      }
    } finally {
      this.adopting = false;
    }
  }

  /**
   * A receiver that starts picks up its stored events nobody follows (lost). When the store cannot list
   * them (busy, failing), they are listed again shortly, not only at the next deploy or restart.
   */
  private async readPending(key: string, registered: { receiver: HandoffReceiver }): Promise<void> {
    const store = registered.receiver.store();
    let rows: { eventId: string }[];
    try {
      rows = store ? await store.pendingInbox(key) : [];
      if (store) this.storeSpell.worked('', 'read');
    } catch (err) {
      this.storeSpell.failed(err, '', 'read');
      if (this.receivers.get(key) !== registered) return; // replaced meanwhile: its successor lists them
      this.unread.add(key);
      this.readAgainLater();
      return;
    }
    // Replaced meanwhile (a deploy): the receiver now registered under the key lists them at its start.
    if (this.receivers.get(key) !== registered) return;
    this.unread.delete(key);
    for (const row of rows) {
      // Followed already (emitted live while the store listed): not lost. One handed on meanwhile is
      // found so when emitLost asks the store for its message.
      if (!this.entries.has(entryKey(key, row.eventId))) this.entry(key, row.eventId).lost = true;
    }
  }

  private readAgainLater(): void {
    if (this.unreadTimer) return;
    this.unreadTimer = setTimeout(() => {
      this.unreadTimer = undefined;
      if (this.deploying) {
        this.readAgainLater(); // a receiver the deploy keeps is not listed by flowsStarted
        return;
      }
      const reads: Promise<void>[] = [];
      for (const key of [...this.unread]) {
        const registered = this.receivers.get(key);
        if (registered?.started) reads.push(this.readPending(key, registered));
        else this.unread.delete(key); // gone, or waiting for its start, which lists it
      }
      void Promise.all(reads).then(() => {
        if (!this.deploying) this.emitLost();
      });
    }, this.sweepEveryMs);
    this.unreadTimer.unref?.();
  }

  // --- internals -----------------------------------------------------------------------------------

  private entry(receiver: string, eventId: string): Entry {
    const key = entryKey(receiver, eventId);
    let entry = this.entries.get(key);
    if (!entry) {
      entry = { receiver, eventId, msgids: [], slots: new Map(), lost: false, failed: [], doneDuringDeploy: [] };
      this.entries.set(key, entry);
      this.watch();
    }
    this.settling.delete(entry);
    return entry;
  }

  private slot(entry: Entry, node: NodeRef): Slot {
    let slot = entry.slots.get(node.instance);
    if (!slot) {
      slot = { node, count: 0, since: this.host.now(), noDone: false };
      entry.slots.set(node.instance, slot);
    }
    return slot;
  }

  private send(entry: Entry, receiver: HandoffReceiver, message: ReceivedEvent): boolean {
    entry.lost = false;
    const sent = receiver.emit(message, (msg) => {
      const msgid = this.host.newMsgId();
      (msg as ReceivedEvent & { _msgid?: string })._msgid = msgid;
      entry.msgids.push(msgid);
      this.byMsgId.set(msgid, entry);
      return msg;
    });
    if (!sent) entry.lost = true;
    this.check(entry);
    return sent;
  }

  /**
   * Emits again every lost event whose receiver runs, with its stored message. One pass at a time: a call
   * while one runs asks for one more pass after it. Each event is looked at again after its store
   * answered: followed anew, finished, or caught by a deploy meanwhile, it is left alone.
   */
  private emitLost(): void {
    if (this.emitting) {
      this.emitAgain = true;
      return;
    }
    this.emitting = true;
    void this.emitLostPass().finally(() => {
      this.emitting = false;
      if (!this.emitAgain) return;
      this.emitAgain = false;
      if (!this.deploying) this.emitLost();
    });
  }

  private async emitLostPass(): Promise<void> {
    const counts = new Map<string, number>();
    for (const entry of [...this.entries.values()]) {
      if (!entry.lost || this.deploying) continue;
      const registered = this.receivers.get(entry.receiver);
      if (!registered?.started) continue; // waits for a receiver of its key
      const store = registered.receiver.store();
      let text: string | undefined;
      try {
        text = store ? await store.pendingMessage(entry.receiver, entry.eventId) : undefined;
        if (store) this.storeSpell.worked('', 'read');
      } catch (err) {
        this.storeSpell.failed(err, '', 'read'); // tried again at the next sweep
        continue;
      }
      // While the store answered: the event may have been emitted (or forgotten), or a deploy begun.
      if (this.entries.get(entryKey(entry.receiver, entry.eventId)) !== entry || !entry.lost || this.deploying) continue;
      if (this.receivers.get(entry.receiver) !== registered) continue; // the next receiver of its key emits it
      if (text === undefined) {
        // Handed on already, not in this store, or the receiver has no store now (a Stream app left
        // without stream-in nodes): nothing to emit; a stored row waits for the next start.
        this.forget(entry);
        continue;
      }
      const message = JSON.parse(text) as ReceivedEvent;
      message.dingtalk.redelivered = true;
      if (!this.send(entry, registered.receiver, message)) {
        // No node listens (a deploy removed every stream-in node of the app): its stored row waits for
        // the next start; following it meanwhile would keep the hooks on for nothing.
        this.forget(entry);
        continue;
      }
      counts.set(entry.receiver, (counts.get(entry.receiver) ?? 0) + 1);
    }
    for (const [receiver, count] of counts) this.receivers.get(receiver)?.receiver.reemitted?.(count);
  }

  private finished(entry: Entry): boolean {
    return !entry.lost && entry.failed.length === 0 && entry.doneDuringDeploy.length === 0 && this.pendingCount(entry) === 0;
  }

  private pendingCount(entry: Entry): number {
    let n = 0;
    for (const slot of entry.slots.values()) n += slot.count;
    return n;
  }

  /** An entry whose messages have all finished is marked handed on after a short delay (batched). */
  private check(entry: Entry): void {
    if (entry.lost || entry.failed.length > 0 || entry.doneDuringDeploy.length > 0 || this.pendingCount(entry) > 0) {
      this.settling.delete(entry);
      return;
    }
    this.settling.add(entry);
    if (!this.settleTimer) {
      this.settleTimer = setTimeout(() => void this.settle(), this.settleDelayMs + this.markBackoffMs);
      this.settleTimer.unref?.();
    }
  }

  private async settle(): Promise<void> {
    this.settleTimer = undefined;
    if (this.deploying) {
      // Nothing is marked while nodes stop and start: what they report then is judged at flowsStarted.
      this.settleTimer = setTimeout(() => void this.settle(), this.settleDelayMs);
      this.settleTimer.unref?.();
      return;
    }
    const byReceiver = new Map<string, Entry[]>();
    for (const entry of this.settling) {
      // Still finished? A node may have sent the message on after calling done.
      if (!this.finished(entry)) continue;
      const list = byReceiver.get(entry.receiver) ?? [];
      list.push(entry);
      byReceiver.set(entry.receiver, list);
    }
    this.settling.clear();
    for (const [receiver, list] of byReceiver) {
      const store = this.receivers.get(receiver)?.receiver.store();
      if (!store) {
        for (const entry of list) this.settling.add(entry); // no store right now (a deploy): later
        continue;
      }
      try {
        const byId = new Map(list.map((e) => [e.eventId, e]));
        await store.markHanded(receiver, [...byId.keys()], (id) => !this.deploying && this.finished(byId.get(id) as Entry));
        for (const entry of list) if (this.finished(entry)) this.forget(entry);
        this.markBackoffMs = 0;
        this.storeSpell.worked('', 'write');
      } catch (err) {
        // Not marked: the events stay pending in the store, so at worst they are emitted again after a restart.
        this.storeSpell.failed(err, '', 'write');
        this.markBackoffMs = Math.min(this.retryMaxMs, Math.max(this.retryMinMs, this.markBackoffMs * 2));
        for (const entry of list) this.settling.add(entry);
      }
    }
    if (this.settling.size > 0 && !this.settleTimer) {
      this.settleTimer = setTimeout(() => void this.settle(), this.settleDelayMs + this.markBackoffMs);
      this.settleTimer.unref?.();
    }
  }

  private forget(entry: Entry): void {
    this.entries.delete(entryKey(entry.receiver, entry.eventId));
    for (const msgid of entry.msgids) this.byMsgId.delete(msgid);
    this.settling.delete(entry);
    if (this.entries.size === 0) this.unwatch();
  }

  /** Failed queueings: one probe at a time, backing off while the store refuses writes. */
  private scheduleRetry(delayMs = this.retryMs): void {
    if (this.retryTimer) return;
    this.retryTimer = setTimeout(() => this.retry(), delayMs);
    this.retryTimer.unref?.();
  }

  private retry(): void {
    this.retryTimer = undefined;
    this.probe = undefined; // a probe that never finished (its node hung) does not block the others
    const entry = [...this.entries.values()].find((e) => e.failed.length > 0);
    if (!entry) {
      this.retryMs = this.retryMinMs;
      return;
    }
    const { node, msg } = entry.failed.shift() as Failed;
    if (this.host.liveNode(node.id) !== node.instance) {
      entry.lost = true; // that dispatch node was replaced: the next flowsStarted emits the event again
      this.check(entry);
      this.scheduleRetry(0);
      return;
    }
    msg.dingtalk.redelivered = true;
    this.probe = msg;
    this.slot(entry, node).count += 1; // handed straight to the node (no send): its done() settles it
    this.scheduleRetry(PROBE_WATCHDOG_MS); // completed() reschedules as soon as the probe has an outcome
    (node.instance as { receive(msg: unknown): void }).receive(msg);
  }

  /** The probe finished: on success the rest follow at once, on failure the next try backs off. */
  private probed(ok: boolean): void {
    this.probe = undefined;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.retryMs = ok ? 0 : Math.min(this.retryMaxMs, Math.max(this.retryMinMs, this.retryMs * 2));
    if (this.failedCount() > 0) this.scheduleRetry();
    else this.retryMs = this.retryMinMs;
  }

  private failedCount(): number {
    let n = 0;
    for (const entry of this.entries.values()) n += entry.failed.length;
    return n;
  }

  private watch(): void {
    // Asked on every new entry, not only on the first: the runtime may have cleared its hooks meanwhile.
    this.host.watching(true);
    if (this.on) return;
    this.on = true;
    if (!this.sweepTimer) {
      this.sweepTimer = setInterval(() => this.sweep(), this.sweepEveryMs);
      this.sweepTimer.unref?.();
    }
  }

  private unwatch(): void {
    if (!this.on) return;
    this.on = false;
    this.host.watching(false);
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
  }

  /**
   * Messages held past the limit count as finished where they are; reported once per node. Lost events
   * that could not be emitted again at the last start (the store failed then, no stream-in node listened)
   * are tried again here, outside deploys.
   */
  /**
   * How long a node may hold a message: a node without `done` that passed nothing on filtered it out
   * (NO_DONE_GRACE_MS); a node that reports done for other messages holds it for a reason (a delay's
   * queue): KNOWN_NODE_LIMIT_MS; any other node: the configured limit.
   */
  private limitFor(slot: Slot, limit: number): number {
    if (slot.noDone) return Math.min(limit, this.options.noDoneGraceMs ?? NO_DONE_GRACE_MS);
    return this.known.has(slot.node.instance) ? Math.max(limit, KNOWN_NODE_LIMIT_MS) : limit;
  }

  private sweep(): void {
    if (!this.deploying && [...this.entries.values()].some((e) => e.lost)) this.emitLost();
    const now = this.host.now();
    const limit = this.options.stuckMs();
    for (const entry of [...this.entries.values()]) {
      let changed = false;
      for (const [instance, slot] of entry.slots) {
        if (slot.count === 0 || now - slot.since < this.limitFor(slot, limit)) continue;
        entry.slots.delete(instance);
        changed = true;
        if (!slot.noDone && !this.reportedStuck.has(slot.node.id)) {
          this.reportedStuck.add(slot.node.id);
          this.host.stuck(slot.node.id, slot.node.type, Math.round(limit / 100) / 10);
        }
      }
      if (changed) this.check(entry);
    }
  }
}
