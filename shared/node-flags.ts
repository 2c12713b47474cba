/**
 * The V8 flags every gradfleet process starts with: `npm start`, the workers that
 * `coordinator start --local-workers` spawns, the container images, the Kubernetes manifests, the
 * bench and the tests (test/deploy/node-flags.test.ts checks each of them). A process started
 * without them works the same, only slower.
 *
 * Why: a coordinator or a worker keeps a small JavaScript heap (a worker ~15 MB, a coordinator
 * ~80 MB) while megabytes of tensor bytes pass through ArrayBuffers outside it every step. V8
 * sizes its old-generation limit from the small heap and counts the external bytes allocated
 * since the last full collection against it, so it ran a full mark-compact about once per step in
 * every process (160 in 150 steps on the worker, 10–20 ms each). Starting the heap at 256 MB keeps
 * the limit above that churn (worker: 160 → 14 mark-compacts, coordinator: 86–147 → 1), and the
 * default MLP on one worker went from 2,000–2,200 to 3,300–3,600 samples/s (bench/RESULTS.md).
 * The cost is memory: up to 256 MB of garbage may wait for a collection.
 */
export const NODE_FLAGS: readonly string[] = ['--initial-heap-size=256'];
