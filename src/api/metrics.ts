// Prometheus metrics of one gateway in the text exposition format (0.0.4):
// slivers by state, resources contributed and used, reconcile errors,
// request latency, and the agent process's memory and CPU. Gauges are read
// from their sources at scrape time, so they are never stale. Written by
// hand rather than with prom-client, which alone added about 12 MB of
// resident memory to an agent whose budget is 60 MB.

import { OBSERVED_STATES, type ObservedState } from '../model/sliver.js';
import type { ResourceVector } from '../model/resources.js';
import type { Contribution, Usage } from '../host/contribution.js';
import { COMMUNITY_PHASES } from '../model/community.js';
import type { SliverTraffic } from '../net/shaper.js';

/** One sliver's shaped traffic, by its name. */
export interface SliverTrafficSample {
  sliver: string;
  traffic: SliverTraffic;
}

/** What the metrics show of the community side; null while in none. */
export interface CommunityGauge {
  state: string;
  attempts: number;
  members: { alive: number; failed: number; left: number };
  serfRestarts: number;
}

export interface MetricsSources {
  sliversByState: () => Partial<Record<ObservedState, number>>;
  contribution: () => Contribution;
  usage: () => Usage;
  community?: () => CommunityGauge | null;
  /** Counted by the bandwidth shaper; slivers it does not shape are absent. */
  sliverTraffic?: () => Promise<SliverTrafficSample[]>;
}


export interface ApiMetrics {
  readonly contentType: string;
  render(): Promise<string>;
  observeRequest(method: string, route: string, status: number, seconds: number): void;
  countReconcileError(step: string): void;
}

const BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5];

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function labels(pairs: Record<string, string>): string {
  const body = Object.entries(pairs).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',');
  return body === '' ? '' : `{${body}}`;
}

interface Series {
  labels: Record<string, string>;
  counts: number[];
  sum: number;
  count: number;
}

export function createMetrics(sources: MetricsSources): ApiMetrics {
  const reconcileErrors = new Map<string, number>();
  const latency = new Map<string, Series>();

  const header = (lines: string[], name: string, type: string, help: string): void => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  };
  const resources = (lines: string[], name: string, help: string, v: ResourceVector): void => {
    header(lines, name, 'gauge', help);
    for (const [resource, value] of [['cpu_cores', v.cpu], ['memory_mb', v.memoryMb], ['disk_mb', v.diskMb], ['slivers', v.slivers]] as const) {
      lines.push(`${name}${labels({ resource })} ${value}`);
    }
  };

  return {
    contentType: 'text/plain; version=0.0.4; charset=utf-8',
    async render() {
      const lines: string[] = [];
      header(lines, 'hearth_slivers', 'gauge', 'Slivers on this gateway by observed state');
      const counts = sources.sliversByState();
      for (const state of OBSERVED_STATES) lines.push(`hearth_slivers${labels({ state })} ${counts[state] ?? 0}`);
      resources(lines, 'hearth_resources_contributed', 'Resources the owner contributes to the community', sources.contribution());
      resources(lines, 'hearth_resources_used', 'Resources held by slivers', sources.usage());
      const community = sources.community?.() ?? null;
      header(lines, 'hearth_community_state', 'gauge', 'The community side of this gateway: 1 for its state, 0 for the others');
      for (const state of COMMUNITY_PHASES) lines.push(`hearth_community_state${labels({ state })} ${(community?.state ?? 'none') === state ? 1 : 0}`);
      header(lines, 'hearth_community_failed_attempts', 'gauge', 'Failed attempts in a row to bring the community side up');
      lines.push(`hearth_community_failed_attempts ${community?.attempts ?? 0}`);
      header(lines, 'hearth_community_members', 'gauge', 'Members of the community by state, as this gateway sees them');
      for (const status of ['alive', 'failed', 'left'] as const) lines.push(`hearth_community_members${labels({ status })} ${community?.members[status] ?? 0}`);
      header(lines, 'hearth_serf_restarts_total', 'counter', 'Times the supervised serf agent died and was restarted');
      lines.push(`hearth_serf_restarts_total ${community?.serfRestarts ?? 0}`);
      const traffic = (await sources.sliverTraffic?.()) ?? [];
      for (const [name, field, help] of [
        ['hearth_sliver_network_bytes_total', 'bytes', 'Bytes a sliver sent (up) and received (down) through the bandwidth shaper'],
        ['hearth_sliver_network_drops_total', 'drops', "Packets the bandwidth shaper dropped from a sliver's traffic"],
      ] as const) {
        header(lines, name, 'counter', help);
        for (const { sliver, traffic: t } of traffic) {
          for (const direction of ['up', 'down'] as const) {
            const c = t[direction];
            if (c !== undefined) lines.push(`${name}${labels({ sliver, direction })} ${c[field]}`);
          }
        }
      }
      header(lines, 'hearth_reconcile_errors_total', 'counter', 'Failed reconcile steps');
      for (const [step, n] of reconcileErrors) lines.push(`hearth_reconcile_errors_total${labels({ step })} ${n}`);
      header(lines, 'hearth_http_request_duration_seconds', 'histogram', 'API request latency');
      for (const s of latency.values()) {
        BUCKETS.forEach((le, i) => lines.push(`hearth_http_request_duration_seconds_bucket${labels({ ...s.labels, le: String(le) })} ${s.counts[i]}`));
        lines.push(`hearth_http_request_duration_seconds_bucket${labels({ ...s.labels, le: '+Inf' })} ${s.count}`);
        lines.push(`hearth_http_request_duration_seconds_sum${labels(s.labels)} ${s.sum}`);
        lines.push(`hearth_http_request_duration_seconds_count${labels(s.labels)} ${s.count}`);
      }
      const cpu = process.cpuUsage();
      header(lines, 'hearth_process_cpu_seconds_total', 'counter', 'CPU time of the agent process');
      lines.push(`hearth_process_cpu_seconds_total ${(cpu.user + cpu.system) / 1e6}`);
      header(lines, 'hearth_process_resident_memory_bytes', 'gauge', 'Resident memory of the agent process');
      lines.push(`hearth_process_resident_memory_bytes ${process.memoryUsage.rss()}`);
      return `${lines.join('\n')}\n`;
    },
    observeRequest(method, route, status, seconds) {
      const key = `${method} ${route} ${status}`;
      let s = latency.get(key);
      if (s === undefined) {
        s = { labels: { method, route, status: String(status) }, counts: BUCKETS.map(() => 0), sum: 0, count: 0 };
        latency.set(key, s);
      }
      BUCKETS.forEach((le, i) => {
        if (seconds <= le) (s as Series).counts[i] = ((s as Series).counts[i] ?? 0) + 1;
      });
      s.sum += seconds;
      s.count += 1;
    },
    countReconcileError(step) {
      reconcileErrors.set(step, (reconcileErrors.get(step) ?? 0) + 1);
    },
  };
}
