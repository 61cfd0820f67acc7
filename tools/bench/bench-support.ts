/*
 * bench-support: what the benchmark scripts share: free ports, /proc readings (process CPU, machine CPU),
 * percentiles, and the CPU-profile summary (self time, stages, inclusive time) of a `--cpu-prof` file.
 */
import { readFileSync } from 'node:fs';
import { AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

/** sleep: resolves after `ms` milliseconds. */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** freePort: a TCP port on 127.0.0.1 that nothing listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** processCpuSeconds: user+system CPU time of a process, from /proc (Linux); undefined when it is gone. */
export function processCpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/** machineCpu: busy and total jiffies of all CPUs (/proc/stat). */
export function machineCpu(): { busy: number; total: number; steal: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] as string;
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    // steal: time the hypervisor ran something else while this VM wanted a CPU (counted in busy).
    return { busy: total - idle, total, steal: v[7] ?? 0 };
  } catch {
    return undefined;
  }
}

/** percentile: the nearest-rank p-th percentile of ascending `sorted` values (NaN when empty). */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] as number;
}

// ------------------------------------------------------------------------------------------------ profile summary

/** ProfileNode: one node of a V8 `.cpuprofile`. */
export interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** FrameMatcher: a named test of a stack frame (a stage of a service's path, or a function for inclusive time). */
export type FrameMatcher = [string, (frame: ProfileNode['callFrame']) => boolean];

/** ProfileSummary: where a profiled process spent its busy time (ms, and % of busy time). */
export interface ProfileSummary {
  file: string;
  totalMs: number;
  busyMs: number;
  topSelf: { name: string; ms: number; pct: number }[];
  byCategory: { category: string; ms: number; pct: number }[];
  inclusive: { name: string; ms: number; pctOfBusy: number }[];
  stages: { stage: string; ms: number; pctOfBusy: number }[];
}

/** category: where a function lives: a package, a Skein library, node's core, or V8's pseudo-frames. */
function category(frame: ProfileNode['callFrame']): string {
  const { url, functionName } = frame;
  if (url === '') return functionName.startsWith('(') ? functionName : `(native) ${functionName || '(anonymous)'}`;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1] as string;
  const lib = /\/(libs|apps)\/([^/]+)\/src\/(.*)$/.exec(url);
  if (lib) return `skein ${lib[2]}/${lib[3]}`;
  if (url.startsWith('node:')) return `node ${url.slice(5).split('/').slice(0, 2).join('/')}`;
  return url.replace(ROOT, '.');
}

const frameName = (frame: ProfileNode['callFrame']) => `${frame.functionName || '(anonymous)'} ${frame.url ? `${category(frame)}:${frame.lineNumber + 1}` : ''}`.trim();

/**
 * summariseProfile: reads a `.cpuprofile`. Every busy sample goes to one of `stages`: of the stages whose frames
 * are on its stack, the first listed wins (list the most specific work first), so stages add up to 100% of the
 * busy time. `inclusive` functions count every sample with one of their frames on the stack.
 */
export function summariseProfile(file: string, stages: FrameMatcher[], inclusive: FrameMatcher[] = []): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const totalUs = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const idleUs = [...selfUs.entries()].filter(([id]) => byId.get(id)?.callFrame.functionName === '(idle)').reduce((a, [, us]) => a + us, 0);
  const busyUs = totalUs - idleUs;
  const selfByName = new Map<string, number>();
  const selfByCategory = new Map<string, number>();
  const inclusiveUs = new Map<string, number>();
  const stageUs = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id) as ProfileNode;
    if (node.callFrame.functionName === '(idle)') continue;
    selfByName.set(frameName(node.callFrame), (selfByName.get(frameName(node.callFrame)) ?? 0) + us);
    selfByCategory.set(category(node.callFrame), (selfByCategory.get(category(node.callFrame)) ?? 0) + us);
    // inclusive: each sample counts once for every matcher that matches a frame on its stack
    const matched = new Set<string>();
    let stage = stages.length;
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = (byId.get(at) as ProfileNode).callFrame;
      for (const [name, test] of inclusive) if (!matched.has(name) && test(frame)) matched.add(name);
      for (let i = 0; i < stage; i++) if ((stages[i] as FrameMatcher)[1](frame)) stage = i;
    }
    for (const name of matched) inclusiveUs.set(name, (inclusiveUs.get(name) ?? 0) + us);
    const stageName = stage < stages.length ? (stages[stage] as FrameMatcher)[0] : node.callFrame.functionName === '(program)' ? '(program): V8/native outside JS' : 'other';
    stageUs.set(stageName, (stageUs.get(stageName) ?? 0) + us);
  }
  const ms = (us: number) => Math.round(us / 100) / 10;
  const pct = (us: number) => Math.round((1000 * us) / busyUs) / 10;
  return {
    file,
    totalMs: ms(totalUs),
    busyMs: ms(busyUs),
    topSelf: [...selfByName.entries()].sort((a, b) => b[1] - a[1]).slice(0, 25).map(([name, us]) => ({ name, ms: ms(us), pct: pct(us) })),
    byCategory: [...selfByCategory.entries()].sort((a, b) => b[1] - a[1]).slice(0, 20).map(([c, us]) => ({ category: c, ms: ms(us), pct: pct(us) })),
    inclusive: inclusive.map(([name]) => ({ name, ms: ms(inclusiveUs.get(name) ?? 0), pctOfBusy: pct(inclusiveUs.get(name) ?? 0) })),
    stages: [...stageUs.entries()].sort((a, b) => b[1] - a[1]).map(([stage, us]) => ({ stage, ms: ms(us), pctOfBusy: pct(us) })),
  };
}

/** printProfile: the summary as indented text lines; `note` follows the busy time (e.g. `(start-up included)`). */
export function printProfile(p: ProfileSummary, note = ''): void {
  const n = (x: number) => Math.round(x).toLocaleString('en-US');
  const lines: string[] = [];
  lines.push(`   profile          ${p.file}: ${n(p.busyMs)} ms busy of ${n(p.totalMs)} ms${note ? ` ${note}` : ''}`);
  lines.push('   busy time by stage (each sample to its most specific stage):');
  for (const st of p.stages) lines.push(`     ${String(st.pctOfBusy).padStart(5)}%  ${st.stage}`);
  lines.push('   self time by package/module:');
  for (const c of p.byCategory.slice(0, 15)) lines.push(`     ${String(c.pct).padStart(5)}%  ${c.category}`);
  lines.push('   top self-time functions:');
  for (const f of p.topSelf.slice(0, 20)) lines.push(`     ${String(f.pct).padStart(5)}%  ${f.name}`);
  if (p.inclusive.length > 0) {
    lines.push('   inclusive time (% of busy):');
    for (const f of p.inclusive) if (f.ms > 0) lines.push(`     ${String(f.pctOfBusy).padStart(5)}%  ${f.name}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}
