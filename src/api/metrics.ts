// Prometheus metrics of one gateway: slivers by state, resources contributed
// and used, reconcile errors, request latency. Gauges are read from their
// sources at scrape time, so they are never stale.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { OBSERVED_STATES, type ObservedState } from '../model/sliver.js';
import type { Contribution, Usage } from '../host/contribution.js';

export interface MetricsSources {
  sliversByState: () => Partial<Record<ObservedState, number>>;
  contribution: () => Contribution;
  usage: () => Usage;
}

export interface ApiMetrics {
  readonly contentType: string;
  render(): Promise<string>;
  observeRequest(method: string, route: string, status: number, seconds: number): void;
  countReconcileError(step: string): void;
}

export function createMetrics(sources: MetricsSources): ApiMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'hearth_process_' });
  new Gauge({
    name: 'hearth_slivers', help: 'Slivers on this gateway by observed state', labelNames: ['state'], registers: [registry],
    collect() {
      const counts = sources.sliversByState();
      for (const state of OBSERVED_STATES) this.set({ state }, counts[state] ?? 0);
    },
  });
  const resources = (name: string, help: string, read: () => Contribution): void => {
    new Gauge({
      name, help, labelNames: ['resource'], registers: [registry],
      collect() {
        const v = read();
        this.set({ resource: 'cpu_cores' }, v.cpu);
        this.set({ resource: 'memory_mb' }, v.memoryMb);
        this.set({ resource: 'disk_mb' }, v.diskMb);
        this.set({ resource: 'slivers' }, v.slivers);
      },
    });
  };
  resources('hearth_resources_contributed', 'Resources the owner contributes to the community', sources.contribution);
  resources('hearth_resources_used', 'Resources held by slivers', sources.usage);
  const reconcileErrors = new Counter({ name: 'hearth_reconcile_errors_total', help: 'Failed reconcile steps', labelNames: ['step'], registers: [registry] });
  const latency = new Histogram({
    name: 'hearth_http_request_duration_seconds', help: 'API request latency', labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers: [registry],
  });
  return {
    contentType: registry.contentType,
    render: () => registry.metrics(),
    observeRequest(method, route, status, seconds) {
      latency.observe({ method, route, status: String(status) }, seconds);
    },
    countReconcileError(step) {
      reconcileErrors.inc({ step });
    },
  };
}
