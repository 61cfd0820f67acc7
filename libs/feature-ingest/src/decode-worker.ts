// decode-worker.ts: the entry of a DecodePool worker thread (decode-pool.ts): prepares each request it is sent.
import { BatchLimits, PolicyIndex } from '@skein/domain';
import { parentPort, workerData } from 'node:worker_threads';
import { handleDecodeTask } from './decode-pool';

const limits = (workerData as { limits: BatchLimits }).limits;
const state: { policy: PolicyIndex | undefined } = { policy: undefined };

parentPort?.on('message', (task: Parameters<typeof handleDecodeTask>[0]) => {
  const { reply, transfer } = handleDecodeTask(task, limits, state);
  parentPort?.postMessage(reply, transfer);
});
