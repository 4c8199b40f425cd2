// Builds the portal into dist/portal at the repo root, the files the agent
// serves at / (dist/web holds what tsc compiles of web/src for unit tests).
// The manifest lets bench/portal-size.ts follow what the first page loads.
import { defineConfig } from 'vite';
import preact from '@preact/preset-vite';

export default defineConfig({
  root: import.meta.dirname,
  base: './',
  plugins: [preact()],
  logLevel: 'warn',
  build: {
    outDir: '../dist/portal',
    emptyOutDir: true,
    manifest: true,
    target: 'es2022',
  },
});
