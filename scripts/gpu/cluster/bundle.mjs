// Bundles `coordinator start` and `worker start` (coordinator/cli.ts, worker/cli.ts) into two
// single-file ESM programs that the GPU kit's plain Node 20 runs without tsx or node_modules:
//   node scripts/gpu/cluster/bundle.mjs OUT_DIR      (from the checkout root; build.sh calls it)
// Writes OUT_DIR/coordinator.mjs, OUT_DIR/worker.mjs and OUT_DIR/proto/ (grpc-health-check's .proto).
//
// What a plain esbuild bundle gets wrong, and the fix for each:
// - onnxruntime-node (and -common, which it re-exports) stay external: a native addon plus its
//   provider libraries; the kit has them in $K/node_modules, found from $K/cluster/ by Node's
//   ordinary lookup. One copy of onnxruntime-common, or tensors from two copies would not mix.
// - CommonJS packages bundled into ESM call require() for Node built-ins and read __dirname /
//   __filename: the banner defines all three (createRequire, the bundle's own folder).
// - grpc-health-check loads its .proto at import time from `${__dirname}/../../proto`: rewritten to
//   `${__dirname}/proto`, and the proto folder is copied next to the bundles.
// - `mnist` (41 MB of JSON, read by shared/data/digits.ts through createRequire) is not bundled: the
//   cluster jobs read the same digits from IDX files (make-data.ts); a job with `source: digits`
//   fails with "Cannot find module 'mnist'".
// - bin/*.mjs use tsx and top-level await: the entries are small files that import each CLI's main().
// - the worker starts its compute thread from `thread-entry.mjs` beside its own file
//   (worker/compute/compute-thread.ts): the thread is bundled under that name.
import { build } from 'esbuild';
import { cpSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';

const out = resolve(process.argv[2] ?? '');
if (!process.argv[2]) {
  console.error('usage: node scripts/gpu/cluster/bundle.mjs OUT_DIR');
  process.exit(2);
}
const repo = process.cwd();
const require = createRequire(join(repo, 'package.json'));
mkdirSync(out, { recursive: true });

// The entries live beside the bundles' sources so that relative imports resolve as in bin/*.mjs.
const entries = { coordinator: '../coordinator/cli.ts', worker: '../worker/cli.ts', 'thread-entry': '../worker/compute/thread.ts' };
const entryDir = join(repo, 'bin');
const stdin = (cli) => ({
  contents: cli.endsWith('/thread.ts') ? `import ${JSON.stringify(cli)};\n` : `import { main } from ${JSON.stringify(cli)};\nprocess.exit(await main(process.argv));\n`,
  resolveDir: entryDir,
  sourcefile: 'entry.ts',
  loader: 'ts',
});

const banner = [
  "import { createRequire as __gfCreateRequire } from 'node:module';",
  "import { fileURLToPath as __gfFileURLToPath } from 'node:url';",
  "import { dirname as __gfDirname } from 'node:path';",
  'const require = __gfCreateRequire(import.meta.url);',
  'const __filename = __gfFileURLToPath(import.meta.url);',
  'const __dirname = __gfDirname(__filename);',
].join('\n');

const HEALTH_JS = /grpc-health-check[\\/]build[\\/]src[\\/]health\.js$/;
const healthProto = {
  name: 'grpc-health-check-proto',
  setup(b) {
    b.onLoad({ filter: HEALTH_JS }, (args) => {
      const src = readFileSync(args.path, 'utf8');
      const from = '`${__dirname}/../../proto`';
      if (!src.includes(from)) throw new Error(`${args.path}: no ${from} to rewrite; grpc-health-check changed, update bundle.mjs`);
      return { contents: src.replace(from, '`${__dirname}/proto`'), loader: 'js' };
    });
  },
};

for (const [name, cli] of Object.entries(entries)) {
  const result = await build({
    stdin: stdin(cli),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile: join(out, `${name}.mjs`),
    external: ['onnxruntime-node', 'onnxruntime-common', 'mnist'],
    banner: { js: banner },
    plugins: [healthProto],
    logLevel: 'warning',
    legalComments: 'none',
    metafile: true,
  });
  const inputs = Object.keys(result.metafile.inputs);
  const packages = new Set(inputs.map((p) => p.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/)?.[1]).filter(Boolean));
  const bytes = result.metafile.outputs[Object.keys(result.metafile.outputs)[0]].bytes;
  console.log(`  ${name}.mjs: ${(bytes / 1048576).toFixed(2)} MiB, ${inputs.length} files, packages: ${[...packages].sort().join(' ')}`);
}

const proto = join(dirname(require.resolve('grpc-health-check/package.json')), 'proto');
cpSync(proto, join(out, 'proto'), { recursive: true });
