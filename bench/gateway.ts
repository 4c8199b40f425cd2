// Benchmark of one gateway (issue: a gateway that runs slivers):
//  1. busybox sliver, API request → running, against plain lxc-* with the
//     same unprivileged idmap and a veth on the same bridge: an overlayfs
//     lxc-copy snapshot (as hearth makes slivers) and a whole lxc-create -t
//     busybox, each + lxc-start + lxc-wait -s RUNNING; interleaved run by
//     run, median of N each.
//  2. the agent's resident memory idle with 0 and with 20 running slivers.
//  3. the agent's idle CPU (its own and its children's: lxc-* it runs) with
//     0 and with 20 running slivers, as a percentage of one core.
// Run as root after `npm run build`: node dist/bench/gateway.js [--runs N]

import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import { createTestGateway } from '../test/support/gateway.js';
import type { Sliver } from '../src/api/schemas.js';
import { ApiProblem } from '../src/cli/client.js';
import { median, sleep } from './lib.js';
import { rawLxc } from './raw-lxc.js';

const run = promisify(execFile);
const { values } = parseArgs({ options: { runs: { type: 'string', default: '20' }, idle: { type: 'string', default: '30' } } });
const RUNS = Number(values.runs);
const IDLE_SEC = Number(values.idle);

async function procStat(pid: number): Promise<{ rssKb: number; cpuTicks: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  // Fields after the command name: utime(14) stime(15) cutime(16) cstime(17), 1-based.
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuTicks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0);
  return { rssKb, cpuTicks };
}

async function idleCpu(pid: number, seconds: number): Promise<number> {
  const ticksPerSec = Number((await run('getconf', ['CLK_TCK'])).stdout.trim());
  const a = await procStat(pid);
  await sleep(seconds * 1000);
  const b = await procStat(pid);
  return ((b.cpuTicks - a.cpuTicks) / ticksPerSec / seconds) * 100;
}

async function main(): Promise<void> {
  const gw = await createTestGateway({ contribution: { cpu: 2, memoryMb: 4096, slivers: 64 } });
  const raw = await rawLxc(gw.config.network.bridge);
  try {
    const agent = await gw.start({ HEARTH_LOG_LEVEL: 'warn' });
    const pid = agent.pid as number;

    const get = async (name: string): Promise<Sliver | undefined> => {
      try {
        return await gw.api.request<Sliver>('GET', `/api/v1/slivers/${name}`);
      } catch (err) {
        if (err instanceof ApiProblem && err.problem.code === 'sliver_not_found') return undefined;
        throw err;
      }
    };
    const waitFor = async (name: string, done: (s: Sliver | undefined) => boolean): Promise<void> => {
      for (;;) {
        const s = await get(name);
        if (done(s)) return;
        if (s?.observed === 'failed') throw new Error(`${name} failed: ${s.reason ?? ''}`);
        await sleep(10);
      }
    };

    const rawTimes: number[] = [];
    const templateTimes: number[] = [];
    const hearthTimes: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      rawTimes.push(await raw.createStart(`rawbench${i}`, 'snapshot'));
      await raw.destroy(`rawbench${i}`);
      templateTimes.push(await raw.createStart(`rawtmpl${i}`, 'template'));
      await raw.destroy(`rawtmpl${i}`);

      const name = `bench${i}`;
      const t0 = performance.now();
      await gw.api.request('POST', '/api/v1/slivers', { name, resources: { memoryMb: 32, cpu: 0.1 } });
      await waitFor(name, (s) => s?.observed === 'running');
      hearthTimes.push(performance.now() - t0);
      await gw.api.request('DELETE', `/api/v1/slivers/${name}`);
      await waitFor(name, (s) => s === undefined);
    }

    await sleep(5000);
    const idle0 = await procStat(pid);
    const cpu0 = await idleCpu(pid, IDLE_SEC);
    for (let i = 0; i < 20; i++) await gw.api.request('POST', '/api/v1/slivers', { name: `idle${i}`, resources: { memoryMb: 32, cpu: 0.05 } });
    for (let i = 0; i < 20; i++) await waitFor(`idle${i}`, (s) => s?.observed === 'running');
    await sleep(5000);
    const idle20 = await procStat(pid);
    const cpu20 = await idleCpu(pid, IDLE_SEC);

    const result = {
      machine: { cpus: cpus().length, model: cpus()[0]?.model ?? '?', memoryGb: Math.round(totalmem() / 2 ** 30), kernel: (await run('uname', ['-r'])).stdout.trim(), node: process.version },
      runs: RUNS,
      rawMedianMs: Math.round(median(rawTimes)),
      rawTemplateMedianMs: Math.round(median(templateTimes)),
      hearthMedianMs: Math.round(median(hearthTimes)),
      ratio: Number((median(hearthTimes) / median(rawTimes)).toFixed(2)),
      ratioToTemplate: Number((median(hearthTimes) / median(templateTimes)).toFixed(2)),
      rssIdle0Mb: Number((idle0.rssKb / 1024).toFixed(1)),
      rssIdle20Mb: Number((idle20.rssKb / 1024).toFixed(1)),
      cpuIdle0Pct: Number(cpu0.toFixed(2)),
      cpuIdle20Pct: Number(cpu20.toFixed(2)),
      idleWindowSec: IDLE_SEC,
    };
    console.log(JSON.stringify(result, null, 2));
    console.log(`\nbusybox sliver request → running: hearth ${result.hearthMedianMs} ms, plain lxc-copy snapshot ${result.rawMedianMs} ms (ratio ${result.ratio}), plain lxc-create ${result.rawTemplateMedianMs} ms (ratio ${result.ratioToTemplate}); median of ${RUNS}`);
    console.log(`agent RSS idle: ${result.rssIdle0Mb} MB with 0 slivers, ${result.rssIdle20Mb} MB with 20 running`);
    console.log(`agent idle CPU (with children): ${result.cpuIdle0Pct}% of a core with 0 slivers, ${result.cpuIdle20Pct}% with 20`);
  } finally {
    await gw.destroy();
    await raw.close();
  }
}

await main();
