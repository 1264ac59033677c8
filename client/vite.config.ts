// Vite builds the web client (learner pages and teacher console) into dist/, which Estrade serves from the
// API's own origin; the dev server forwards /v1 to a local Estrade so the
// client's relative API paths work unchanged.
import { readFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'

import react from '@vitejs/plugin-react'
import type { Plugin } from 'vite'
import { defineConfig } from 'vitest/config'

/**
 * Scalar's standalone browser bundle (`@scalar/api-reference`, pinned in
 * package.json), written to dist/docs/scalar.js with its MIT notice on
 * top, and gzipped beside it: the API's `/docs` page loads it from
 * Estrade's own origin (crates/api/src/client.rs), never from a CDN.
 */
function apiReference(): Plugin {
  const from = (path: string) => new URL(path, import.meta.url)
  return {
    name: 'estrade-api-reference',
    apply: 'build',
    generateBundle() {
      const scalar = '@scalar/api-reference'
      const { version } = JSON.parse(
        readFileSync(from(`node_modules/${scalar}/package.json`), 'utf8'),
      ) as { version: string }
      const license = readFileSync(from('licenses/scalar-api-reference.txt'), 'utf8')
      const bundle = readFileSync(
        from(`node_modules/${scalar}/dist/browser/standalone.js`),
        'utf8',
      ).replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '\n')
      const source = `/*! ${scalar} ${version} (dist/browser/standalone.js)\n\n${license.replaceAll('*/', '* /')}*/\n${bundle}`
      this.emitFile({ type: 'asset', fileName: 'docs/scalar.js', source })
      this.emitFile({ type: 'asset', fileName: 'docs/scalar.js.gz', source: gzipSync(source, { level: 9 }) })
    },
  }
}

export default defineConfig({
  plugins: [react(), apiReference()],
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
