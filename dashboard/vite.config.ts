import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import react from '@vitejs/plugin-react'
import type { Plugin } from 'vite'
import { defineConfig } from 'vitest/config'

// `npm run dev` serves the pages with hot reload and passes the API through to a running
// backend (scripts/start prints its URL): VOXIE_BACKEND_URL, default the backend's default port.
const backend = process.env.VOXIE_BACKEND_URL ?? 'http://127.0.0.1:8000'

// Text files worth compressing, as the backend serves them: beside each, its gzip (`x.js.gz`).
const COMPRESSED = /\.(js|css|html|svg|json)$/
const COMPRESS_MIN_BYTES = 1024

/** Each built text file gzipped once, here: the backend sends `x.js.gz` to a browser that accepts
 * gzip, and never compresses on a request (18 ms of its event loop for livekit-client alone). */
function precompress(): Plugin {
  return {
    name: 'voxie-precompress',
    apply: 'build',
    writeBundle(options, bundle) {
      const dir = options.dir ?? 'dist'
      for (const file of Object.keys(bundle)) {
        if (file.startsWith('.vite/') || !COMPRESSED.test(file)) continue
        const path = join(dir, file)
        const data = readFileSync(path)
        if (data.length >= COMPRESS_MIN_BYTES) writeFileSync(`${path}.gz`, gzipSync(data, { level: 9 }))
      }
    },
  }
}

export default defineConfig(({ mode }) => ({
  plugins: [react(), precompress()],
  build: {
    outDir: 'dist',
    // .vite/manifest.json: which files each page loads (bench.dashboard_bundle, tests/dashboard/).
    manifest: true,
    // Source maps only where the sources are ours to read: `npm run dev` (always) and a local
    // `vite build --mode development`. The production build — `npm run build`, the one
    // scripts/bootstrap, CI and the Dockerfile run — has none, so the image cannot publish the
    // full sources, and what the browser tests exercise is exactly what ships.
    sourcemap: mode === 'development',
    // Vite's default is 500 kB; livekit-client arrives as one prebuilt ES module (its own
    // dependencies inlined, 533 kB minified in 2.23) that no split can divide. Just above it, so
    // an app chunk or a library that grows past that still warns.
    chunkSizeWarningLimit: 560,
    rolldownOptions: {
      output: {
        // Libraries in chunks of their own: they change far less often than the app, so a new
        // deployment leaves them cached (assets/ is cached for a year, by content hash), and
        // livekit lands only where a call page needs it. Higher priority groups take their
        // modules first: react before the libraries that import it.
        codeSplitting: {
          groups: [
            { name: 'react', test: /node_modules[\\/](react|react-dom|react-router|react-router-dom|scheduler)[\\/]/, priority: 4 },
            { name: 'supabase', test: /node_modules[\\/]@supabase[\\/]/, priority: 3 },
            { name: 'livekit-client', test: /node_modules[\\/]livekit-client[\\/]/, priority: 2 },
            { name: 'livekit-components', test: /node_modules[\\/]@livekit[\\/]/, priority: 1 },
          ],
        },
      },
    },
  },
  server: {
    proxy: {
      '/api': backend,
      '/dashboard-config.json': backend,
    },
  },
  test: { include: ['src/**/*.test.ts'], environment: 'node' },
}))
