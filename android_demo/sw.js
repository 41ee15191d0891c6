// Service worker: the app shell, models and gallery are cached at install; everything else the page
// fetches (LiteRT.js's wasm variant for this browser) is cached on first use. Network first, so that a
// rebuilt model is picked up when online; the cache answers when offline.
import {CACHE_NAME} from './cache_name.js';

const SHELL = ['./', 'index.html', 'app.js', 'classifier.js', 'expand.js', 'cache_name.js', 'style.css', 'manifest.webmanifest',
  'icons/icon-192.png', 'icons/icon-512.png', 'models/models.json', 'models/gallery.json',
  'node_modules/@litertjs/core/dist/index.js', 'node_modules/@litertjs/wasm-utils/dist/index.js',
  ...['flatbuffers', 'builder', 'byte-buffer', 'constants', 'encoding', 'utils'].map(f => `node_modules/flatbuffers/mjs/${f}.js`)];

self.addEventListener('install', event => event.waitUntil((async () => {
  const cache = await caches.open(CACHE_NAME);
  await cache.addAll(SHELL);
  const manifest = await (await cache.match('models/models.json')).json();
  await cache.addAll(manifest.models.map(m => `models/${m.file}`));
  await self.skipWaiting();
})()));

self.addEventListener('activate', event => event.waitUntil((async () => {
  for (const key of await caches.keys()) if (key !== CACHE_NAME) await caches.delete(key);
  await self.clients.claim();
})()));

self.addEventListener('fetch', event => {
  if (event.request.method !== 'GET' || !event.request.url.startsWith(self.location.origin)) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE_NAME);
    try {
      const response = await fetch(event.request);
      if (response.ok) await cache.put(event.request, response.clone());
      return response;
    } catch (offline) {
      const hit = await cache.match(event.request, {ignoreSearch: true});
      if (hit) return hit;
      throw offline;
    }
  })());
});
