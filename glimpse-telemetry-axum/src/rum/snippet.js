// rum.js: load with <script type="module" src="/assets/rum.js"></script>
import { onCLS, onFCP, onINP, onLCP, onTTFB } from '/assets/web-vitals.js';

const ENDPOINT = '/rum';
const nav = performance.getEntriesByType('navigation')[0];
// The document request's trace: Server-Timing first, else a <meta name="traceparent">.
const traceparent =
  nav?.serverTiming?.find((e) => e.name === 'traceparent')?.description ||
  document.querySelector('meta[name="traceparent"]')?.content ||
  undefined;
const page = location.pathname;
const queue = [];

function flush() {
  while (queue.length > 0) {
    // text/plain: no CORS preflight; at most 20 reports per beacon.
    navigator.sendBeacon(ENDPOINT, JSON.stringify(queue.splice(0, 20)));
  }
}

function send({ name, value, delta, id, rating, navigationType }) {
  queue.push({ name, value, delta, id, rating, navigationType, page, traceparent });
  if (document.visibilityState === 'hidden') queueMicrotask(flush);
}

onLCP(send);
onINP(send);
onCLS(send);
onFCP(send);
onTTFB(send);

// Page-load time (Navigation Timing), once the load event has ended.
addEventListener('load', () => setTimeout(() => {
  const n = performance.getEntriesByType('navigation')[0];
  if (n && n.loadEventEnd > 0) {
    const id = `pl-${Math.round(performance.timeOrigin)}-${Math.floor(Math.random() * 1e12)}`;
    send({ name: 'PageLoad', value: n.loadEventEnd, delta: n.loadEventEnd, id });
  }
}, 0));

addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'hidden') flush();
});
addEventListener('pagehide', flush);
