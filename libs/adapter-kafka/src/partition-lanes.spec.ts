import { PartitionLanes } from './partition-lanes';

/** Step: a batch under test; its handling waits until the test settles it. */
interface Step {
  partition: number;
  id: string;
}

/** harness: lanes whose handler records start/end order and finishes a batch only when the test says so. */
function harness(prefetch: number, concurrency: number) {
  const events: string[] = [];
  const pending = new Map<string, { ok: () => void; fail: (err: Error) => void }>();
  const failures: string[] = [];
  const lanes = new PartitionLanes<Step>({
    prefetch,
    concurrency,
    handle: (step) =>
      new Promise<void>((resolve, reject) => {
        events.push(`start ${step.id}`);
        pending.set(step.id, {
          ok: () => {
            events.push(`end ${step.id}`);
            resolve();
          },
          fail: (err) => {
            events.push(`fail ${step.id}`);
            reject(err);
          },
        });
      }),
    failed: (step, err) => failures.push(`${step.id}: ${(err as Error).message}`),
  });
  const finish = async (id: string) => {
    await tick();
    const entry = pending.get(id);
    if (entry === undefined) throw new Error(`${id} is not being handled; events: ${events.join(', ')}`);
    pending.delete(id);
    entry.ok();
    await tick();
  };
  const fail = async (id: string, message: string) => {
    await tick();
    pending.get(id)?.fail(new Error(message));
    pending.delete(id);
    await tick();
  };
  return { lanes, events, finish, fail, failures, handling: () => [...pending.keys()] };
}

/** tick: lets every queued promise callback run. */
const tick = () => new Promise((resolve) => setImmediate(resolve));

/** state: whether a promise has settled yet, without waiting for it. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(() => (done = true));
  await tick();
  return done;
}

describe('PartitionLanes', () => {
  it('handles one partition in order, one batch at a time, and admits the next batch while one is handled', async () => {
    const { lanes, events, finish } = harness(1, 3);
    const first = await lanes.admit(0, { partition: 0, id: 'a1' });
    // prefetch 1: a second batch is queued at once although the first is still being handled.
    const second = await lanes.admit(0, { partition: 0, id: 'a2' });
    expect(first).toBeDefined();
    expect(second).toBeDefined();
    // The lane is full now (one handled + one waiting): a third admission waits.
    const third = lanes.admit(0, { partition: 0, id: 'a3' });
    expect(await settled(third)).toBe(false);
    expect(lanes.waitingCount).toBe(1);
    await finish('a1');
    expect(await settled(third)).toBe(true);
    await finish('a2');
    await finish('a3');
    expect(events).toEqual(['start a1', 'end a1', 'start a2', 'end a2', 'start a3', 'end a3']);
  });

  it('with prefetch 0 admits a batch only once the previous one is handled', async () => {
    const { lanes, finish } = harness(0, 1);
    const handled = await lanes.admit(0, { partition: 0, id: 'a1' });
    const next = lanes.admit(0, { partition: 0, id: 'a2' });
    expect(await settled(next)).toBe(false);
    expect(await settled(handled!.handled)).toBe(false);
    await finish('a1');
    expect(await settled(handled!.handled)).toBe(true);
    expect(await settled(next)).toBe(true);
    await finish('a2');
  });

  it('handles different partitions side by side, at most `concurrency` at once', async () => {
    const { lanes, finish, handling } = harness(1, 2);
    await lanes.admit(0, { partition: 0, id: 'p0' });
    await lanes.admit(1, { partition: 1, id: 'p1' });
    await lanes.admit(2, { partition: 2, id: 'p2' });
    await tick();
    expect(handling().sort()).toEqual(['p0', 'p1']);
    await finish('p1');
    expect(handling().sort()).toEqual(['p0', 'p2']);
    await finish('p0');
    await finish('p2');
    expect(handling()).toEqual([]);
  });

  it('after a failure drops the waiting batches, refuses new ones until unblocked, and reports the failed batch', async () => {
    const { lanes, events, finish, fail, failures } = harness(1, 3);
    await lanes.admit(0, { partition: 0, id: 'a1' });
    await lanes.admit(0, { partition: 0, id: 'a2' });
    const third = lanes.admit(0, { partition: 0, id: 'a3' });
    // Another partition is not affected.
    await lanes.admit(1, { partition: 1, id: 'b1' });
    await fail('a1', 'store down');
    expect(failures).toEqual(['a1: store down']);
    // The batch waiting for room gives up (it is fetched again), the queued one is dropped unhandled.
    expect(await third).toBeUndefined();
    expect(lanes.waitingCount).toBe(0);
    expect(await lanes.admit(0, { partition: 0, id: 'a4' })).toBeUndefined();
    await finish('b1');
    lanes.unblock(0);
    expect(await lanes.admit(0, { partition: 0, id: 'a1-again' })).toBeDefined();
    await finish('a1-again');
    expect(events.filter((e) => / a/.test(e))).toEqual(['start a1', 'fail a1', 'start a1-again', 'end a1-again']);
  });

  it('reset drops every waiting batch and unblocks; the batch being handled still finishes first', async () => {
    const { lanes, events, finish, fail } = harness(2, 3);
    await lanes.admit(0, { partition: 0, id: 'a1' });
    const queued = await lanes.admit(0, { partition: 0, id: 'a2' });
    await lanes.admit(1, { partition: 1, id: 'b1' });
    await fail('b1', 'boom');
    expect(await lanes.admit(1, { partition: 1, id: 'b2' })).toBeUndefined();
    lanes.reset();
    // Dropped batches count as done for whoever waits on them.
    expect(await settled(queued!.handled)).toBe(true);
    expect(lanes.waitingCount).toBe(0);
    expect(await lanes.admit(1, { partition: 1, id: 'b1-again' })).toBeDefined();
    // Read again after the rebalance: it waits for the batch of the old assignment that is still being handled.
    await lanes.admit(0, { partition: 0, id: 'a1-again' });
    await tick();
    expect(events).not.toContain('start a1-again');
    await finish('a1');
    await finish('a1-again');
    await finish('b1-again');
    expect(events).not.toContain('start a2');
  });

  it('an abandoned admission gives up without queueing', async () => {
    const { lanes, finish } = harness(0, 1);
    await lanes.admit(0, { partition: 0, id: 'a1' });
    let abandon!: () => void;
    const admission = lanes.admit(0, { partition: 0, id: 'a2' }, new Promise<void>((resolve) => (abandon = resolve)));
    abandon();
    expect(await admission).toBeUndefined();
    await finish('a1');
    expect(lanes.waitingCount).toBe(0);
  });

  it('close drops waiting batches, refuses new ones and resolves once the batch being handled is done', async () => {
    const { lanes, events, finish } = harness(1, 1);
    await lanes.admit(0, { partition: 0, id: 'a1' });
    await lanes.admit(0, { partition: 0, id: 'a2' });
    const closed = lanes.close();
    expect(await settled(closed)).toBe(false);
    expect(await lanes.admit(0, { partition: 0, id: 'a3' })).toBeUndefined();
    await finish('a1');
    await closed;
    expect(events).toEqual(['start a1', 'end a1']);
  });

  it('rejects a prefetch or concurrency that is not a usable integer, naming it', () => {
    const handle = async () => undefined;
    const failed = () => undefined;
    expect(() => new PartitionLanes({ prefetch: -1, concurrency: 1, handle, failed })).toThrow(/prefetch must be an integer ≥ 0, got -1/);
    expect(() => new PartitionLanes({ prefetch: 1, concurrency: 0, handle, failed })).toThrow(/concurrency must be an integer ≥ 1, got 0/);
  });
});
