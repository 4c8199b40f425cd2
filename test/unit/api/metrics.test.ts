// The hand-written Prometheus exposition: well-formed families, label
// escaping, cumulative histogram buckets.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMetrics } from '../../../src/api/metrics.js';

test('families, values and cumulative buckets', async () => {
  const m = createMetrics({
    sliversByState: () => ({ running: 2, failed: 1 }),
    contribution: () => ({ cpu: 1.5, memoryMb: 1024, diskMb: 10, slivers: 4 }),
    usage: () => ({ cpu: 0.5, memoryMb: 256, diskMb: 5, slivers: 3, upMbit: 0, downMbit: 0 }),
    sliverTraffic: async () => [{ sliver: 'web', traffic: { up: { bytes: 1200, drops: 3 }, down: { bytes: 99, drops: 0 } } }, { sliver: 'db', traffic: { down: { bytes: 7, drops: 1 } } }],
  });
  m.observeRequest('GET', '/api/v1/slivers', 200, 0.003);
  m.observeRequest('GET', '/api/v1/slivers', 200, 0.2);
  m.observeRequest('POST', '/api/v1/x"y', 400, 0.0001);
  m.countReconcileError('create');
  m.countReconcileError('create');
  const text = await m.render();
  assert.match(text, /^hearth_slivers\{state="running"\} 2$/m);
  assert.match(text, /^hearth_slivers\{state="requested"\} 0$/m);
  assert.match(text, /^hearth_resources_contributed\{resource="cpu_cores"\} 1\.5$/m);
  assert.match(text, /^hearth_resources_used\{resource="slivers"\} 3$/m);
  assert.match(text, /^hearth_reconcile_errors_total\{step="create"\} 2$/m);
  assert.match(text, /^hearth_http_request_duration_seconds_bucket\{method="GET",route="\/api\/v1\/slivers",status="200",le="0\.005"\} 1$/m);
  assert.match(text, /^hearth_http_request_duration_seconds_bucket\{method="GET",route="\/api\/v1\/slivers",status="200",le="0\.5"\} 2$/m);
  assert.match(text, /^hearth_http_request_duration_seconds_count\{method="GET",route="\/api\/v1\/slivers",status="200"\} 2$/m);
  assert.match(text, /route="\/api\/v1\/x\\"y"/, 'quotes in labels are escaped');
  assert.match(text, /^hearth_sliver_network_bytes_total\{sliver="web",direction="up"\} 1200$/m);
  assert.match(text, /^hearth_sliver_network_drops_total\{sliver="web",direction="up"\} 3$/m);
  assert.match(text, /^hearth_sliver_network_bytes_total\{sliver="db",direction="down"\} 7$/m);
  assert.doesNotMatch(text, /sliver="db",direction="up"/, 'a direction not shaped has no series');
  assert.match(text, /^hearth_process_resident_memory_bytes \d+$/m);
  for (const line of text.trim().split('\n')) assert.match(line, /^(# (HELP|TYPE) \w+ .+|\w+(\{[^}]*\})? [0-9.e+-]+)$/, line);
});
