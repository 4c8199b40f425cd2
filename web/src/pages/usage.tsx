// The gateway's use over the last hour (GET /api/v1/node/samples, taken by
// the agent every intervalSec): how busy its cores are and how much memory
// and disk the box uses, as small line charts with the latest figure in
// words. Samples are not on the stream, so the chart re-reads them at the
// agent's own interval while it is shown.

import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, type Api } from '../api';
import type { NodeInfo, Sample, SampleList } from '../types';

const WIDTH = 300;
const HEIGHT = 60;

function Chart({ label, values, max, now }: { label: string; values: number[]; max: number; now: string }): JSX.Element {
  // One sample is drawn as a level line across the chart.
  const shown = values.length === 1 ? [values[0] ?? 0, values[0] ?? 0] : values;
  const step = WIDTH / Math.max(1, shown.length - 1);
  const points = shown.map((v, i) => `${(i * step).toFixed(1)},${(HEIGHT - (Math.min(v, max) / max) * HEIGHT).toFixed(1)}`).join(' ');
  return (
    <figure class="chart">
      <figcaption>{label}: <strong>{now}</strong></figcaption>
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} preserveAspectRatio="none" aria-hidden="true">
        <polyline points={points} />
      </svg>
    </figure>
  );
}

export function Usage({ api }: { api: Api }): JSX.Element {
  const [samples, setSamples] = useState<SampleList | undefined>();
  const [node, setNode] = useState<NodeInfo | undefined>();
  const [error, setError] = useState<string | undefined>();

  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let current = true;
    let intervalSec = 10;
    const read = async (): Promise<void> => {
      try {
        const [s, n] = await Promise.all([api.get<SampleList>('/api/v1/node/samples'), api.get<NodeInfo>('/api/v1/node')]);
        if (!current) return;
        intervalSec = s.intervalSec;
        setSamples(s);
        setNode(n);
        setError(undefined);
      } catch (err) {
        if (!current) return;
        setError(err instanceof ApiError ? err.message : String(err));
      }
      timer = setTimeout(() => void read(), intervalSec * 1000);
    };
    void read();
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [api]);

  const latest: Sample | undefined = samples?.items.at(-1);
  return (
    <section aria-labelledby="usage-title">
      <h2 id="usage-title">Use over the last hour</h2>
      {error !== undefined && <p class="error" role="alert">Could not read the samples: {error}</p>}
      {samples === undefined && error === undefined && <p>Loading the samples…</p>}
      {samples !== undefined && node !== undefined && (latest === undefined
        ? <p class="empty">No samples yet; the gateway takes one every {samples.intervalSec} s.</p>
        : (
          <div class="charts">
            <Chart label="CPU busy" values={samples.items.map((s) => s.cpuBusy * 100)} max={100} now={`${Math.round(latest.cpuBusy * 100)}% of ${node.inventory.cpu} cores`} />
            <Chart label="Memory used" values={samples.items.map((s) => s.memoryUsedMb)} max={node.inventory.memoryMb}
              now={`${latest.memoryUsedMb} of ${node.inventory.memoryMb} MB`} />
            <Chart label="Disk used" values={samples.items.map((s) => s.diskUsedMb)} max={node.inventory.diskMb} now={`${latest.diskUsedMb} of ${node.inventory.diskMb} MB`} />
            <p>Slivers hold {latest.reserved.cpu} of {node.contribution.cpu} cpu, {latest.reserved.memoryMb} of {node.contribution.memoryMb} MB memory,
              {' '}{latest.reserved.diskMb} of {node.contribution.diskMb} MB disk; {latest.running} running.</p>
          </div>
        ))}
    </section>
  );
}
