import react from '@vitejs/plugin-react'
import { defineConfig } from 'vitest/config'

// `npm run dev` serves the pages with hot reload and passes the API through to a running
// backend (scripts/start prints its URL): VOXIE_BACKEND_URL, default the backend's default port.
const backend = process.env.VOXIE_BACKEND_URL ?? 'http://127.0.0.1:8000'

export default defineConfig({
  plugins: [react()],
  build: { outDir: 'dist', sourcemap: true, chunkSizeWarningLimit: 2000 },
  server: {
    proxy: {
      '/api': backend,
      '/dashboard-config.json': backend,
    },
  },
  test: { include: ['src/**/*.test.ts'], environment: 'node' },
})
