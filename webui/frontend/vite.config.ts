/// <reference types="vitest/config" />
// Vite builds the UI into ../static, which the bot serves at "/"; `npm run dev`
// proxies the API and the chat WebSocket to a bot on 127.0.0.1:8080.
import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'

const backend = process.env.FREECHAT_BACKEND ?? 'http://127.0.0.1:8080'

export default defineConfig({
  base: '/',
  plugins: [vue()],
  build: {
    outDir: '../static',
    emptyOutDir: true,
    // No inline data: URLs for assets: the CSP-friendly build keeps every asset a file.
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 1024,
  },
  server: {
    proxy: {
      '/api': { target: backend, ws: true, changeOrigin: false },
      '/health': backend,
    },
  },
  test: {
    environment: 'jsdom',
    include: ['tests/**/*.test.ts'],
  },
})
