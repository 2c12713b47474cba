/**
 * The V8 flags and malloc settings every gradfleet process starts with: `npm start`, the workers that
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

/**
 * glibc malloc settings, as environment variables (glibc reads them when the process starts).
 *
 * Why: every message of tensor bytes is a fresh buffer of up to a megabyte (gRPC frames each
 * message into a new buffer, and reassembles each received one into another). glibc serves such
 * sizes with mmap and gives them back with munmap, so every buffer's pages are faulted in again on
 * first touch; in a virtual machine a page fault costs microseconds, and an 800 KB buffer about
 * half a millisecond. Serving every size up to 32 MB (glibc's largest mmap threshold) from the
 * heap, and keeping up to 256 MB of freed memory instead of trimming it, lets the same pages be
 * reused from step to step. An 800 KB message each way between two processes on loopback took
 * 3.2 ms without them and 1.8 ms with them (bench/RESULTS.md). The cost is memory the process
 * keeps after a peak.
 */
export const PROCESS_ENV: Readonly<Record<string, string>> = {
  MALLOC_MMAP_THRESHOLD_: String(32 << 20),
  MALLOC_TRIM_THRESHOLD_: String(256 << 20),
};

/** PROCESS_ENV as `NAME=value` words, for shell commands (npm scripts). */
export function processEnvWords(): string {
  return Object.entries(PROCESS_ENV)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}
