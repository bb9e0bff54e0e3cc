/**
 * Preloaded by `node bench/profile.js --mode alloc` (node --import): samples every allocation
 * (objects later collected by minor and major GCs included, unlike --heap-prof) from SIGWINCH
 * on, and writes the sampling profile to HEAP_OUT on SIGUSR2.
 */
import inspector from 'node:inspector';
import { writeFileSync } from 'node:fs';
const s = new inspector.Session(); s.connect();
const post = (m, p) => new Promise((res, rej) => s.post(m, p, (e, r) => e ? rej(e) : res(r)));
process.on('SIGUSR2', async () => {
  const { profile } = await post('HeapProfiler.stopSampling');
  writeFileSync(process.env.HEAP_OUT, JSON.stringify(profile));
  process.stderr.write('heap profile written\n');
});
process.on('SIGWINCH', async () => {
  await post('HeapProfiler.startSampling', { samplingInterval: Number(process.env.HEAP_INTERVAL ?? 128), includeObjectsCollectedByMajorGC: process.env.HEAP_KEEP !== 'live', includeObjectsCollectedByMinorGC: process.env.HEAP_KEEP !== 'live' && process.env.HEAP_KEEP !== 'promoted' });
  process.stderr.write('heap sampling started\n');
});
