// Builds the portal into dist/web at the repo root, the agent's static files.
// The manifest lets bench/portal-size.ts follow what the first page loads.
import { defineConfig } from 'vite';
import preact from '@preact/preset-vite';

export default defineConfig({
  root: import.meta.dirname,
  base: './',
  plugins: [preact()],
  logLevel: 'warn',
  build: {
    outDir: '../dist/web',
    emptyOutDir: true,
    manifest: true,
    target: 'es2022',
  },
});
