// Vite builds the web client (learner pages and teacher console) into dist/, which Estrade serves from the
// API's own origin; the dev server forwards /v1 to a local Estrade so the
// client's relative API paths work unchanged.
import react from '@vitejs/plugin-react'
import { defineConfig } from 'vitest/config'

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: 'dist',
    // livekit-client (about 550 kB) is one chunk shared by the classroom
    // and the console's class page; it loads while the learner fills in
    // the join form.
    chunkSizeWarningLimit: 700,
  },
  server: {
    proxy: {
      '/v1': 'http://127.0.0.1:8080',
    },
  },
  test: {
    environment: 'node',
    include: ['src/**/*.test.ts'],
  },
})
