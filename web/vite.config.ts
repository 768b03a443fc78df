import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/** The web player: its own Vite root; the API process serves `dist/` at `/` and assets under `/web/`. */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  publicDir: false,
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'web',
    target: 'es2022',
    reportCompressedSize: true,
  },
  server: {
    // `npm run dev:web` next to `npm run dev`: the API answers on its usual port.
    proxy: { '/api': 'http://127.0.0.1:3000', '/media': 'http://127.0.0.1:3000' },
  },
});
