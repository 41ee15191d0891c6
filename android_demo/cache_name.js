// One name for the offline cache, shared by the page and the service worker (bump it to drop old caches).
export const CACHE_NAME = 'tfquant-demo-v2';
