import { defineConfig } from 'vitest/config'

// `npm run dev` serves the app with hot reload and forwards the API to a
// running host (TODO_HOST, default http://127.0.0.1:3000); `npm run build`
// writes the static files the host serves at `/` to dist/.
const host = process.env.TODO_HOST ?? 'http://127.0.0.1:3000'

export default defineConfig({
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  server: { proxy: { '/api': host, '/auth': host } },
  // Two pages: the dashboard, and the API reference (dist/api/docs/index.html,
  // served by the host at /api/docs/).
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    rollupOptions: { input: { main: 'index.html', docs: 'api/docs/index.html' } },
    // Swagger UI is one 1.5 MB chunk, loaded only by the reference page.
    chunkSizeWarningLimit: 2000,
  },
  test: { include: ['test/unit/**/*.test.ts'], environment: 'node' },
})
