#!/usr/bin/env node
/**
 * Stages the root filesystem of the `gradfleet:local` image in a directory, from this checkout
 * and this machine alone (no registry): the host's Node runtime and the shared libraries it and
 * onnxruntime's native addon link against, the app sources, and the production node_modules.
 *
 *   node deploy/docker/stage-rootfs.mjs <empty-dir>
 *
 * build-image.sh tars the directory and `docker import`s it. The result has no shell and no
 * package manager: only what `node bin/coordinator.mjs` and `node bin/worker.mjs` need.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pruneOrtBinaries } from './prune-ort-binaries.mjs';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Top-level entries of the checkout that the image carries (tests and benchmarks stay behind). */
const APP_ENTRIES = ['package.json', 'package-lock.json', 'tsconfig.json', 'bin', 'bench', 'proto', 'shared', 'coordinator', 'worker', 'deploy/docker/health-probe.mjs', 'README.md', 'LICENSE'];

/** The image's unprivileged user (Kubernetes manifests use the same numbers). */
const APP_UID = 1000;

const isTestFile = (path) => /\.test\.[cm]?[jt]s$/.test(path) || /(^|\/)__tests__(\/|$)/.test(path);

/** Copies the app's own files, leaving test files out. */
function stageApp(appDir) {
  for (const entry of APP_ENTRIES) {
    const from = join(repo, entry);
    if (!existsSync(from)) continue;
    cpSync(from, join(appDir, entry), { recursive: true, filter: (src) => !isTestFile(relative(repo, src)) });
  }
}

/**
 * The production packages, read from package-lock.json: every installed package not marked
 * `dev`. Each is copied without its own nested node_modules, because nested packages are
 * separate lockfile entries (and may themselves be dev-only).
 */
function stageProductionModules(appDir) {
  const lock = JSON.parse(readFileSync(join(repo, 'package-lock.json'), 'utf8'));
  if (lock.lockfileVersion < 2) throw new Error(`package-lock.json version ${lock.lockfileVersion} has no "packages" map; run npm ci with npm >= 7`);
  let copied = 0;
  for (const [key, meta] of Object.entries(lock.packages)) {
    if (!key.startsWith('node_modules/') || meta.dev) continue;
    const from = join(repo, key);
    // Optional packages for other platforms (e.g. @esbuild/darwin-arm64) are not installed here.
    if (!existsSync(from)) {
      if (meta.optional || meta.devOptional) continue;
      throw new Error(`production package ${key} is in package-lock.json but not installed; run npm ci first`);
    }
    const nested = join(from, 'node_modules');
    cpSync(from, join(appDir, key), { recursive: true, dereference: true, filter: (src) => src !== nested && !src.startsWith(nested + '/') });
    copied++;
  }
  if (copied === 0) throw new Error('no production packages found in package-lock.json');
  pruneOrtBinaries(join(appDir, 'node_modules'));
  return copied;
}

/** Every file under dir (recursively) whose name matches. */
function findFiles(dir, match) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...findFiles(path, match));
    else if (entry.isFile() && match(entry.name)) out.push(path);
  }
  return out;
}

/** Absolute paths of the shared libraries `ldd` resolves for an ELF file, the loader included. */
function sharedLibraries(elf) {
  const text = execFileSync('ldd', [elf], { encoding: 'utf8' });
  const libs = [];
  for (const line of text.split('\n')) {
    if (line.includes('not found')) throw new Error(`${elf}: ldd cannot resolve ${line.trim()}`);
    // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)/.exec(line);
    if (m) libs.push(m[1]);
  }
  return libs;
}

/**
 * The Node binary at /usr/local/bin/node plus every library that it and the native addons in
 * node_modules load, at the paths ldd names (symlinks resolved to real files at those paths).
 */
function stageRuntime(root, appDir) {
  const node = realpathSync(process.execPath);
  const target = join(root, 'usr/local/bin/node');
  mkdirSync(dirname(target), { recursive: true });
  // copyFileSync of the resolved path: Node 22's cpSync mistakes a symlinked file for a directory.
  copyFileSync(realpathSync(node), target);
  const addons = findFiles(join(appDir, 'node_modules'), (name) => name.endsWith('.node') || /\.so(\.\d+)*$/.test(name));
  const stagedRoot = resolve(root) + '/';
  const libs = new Set();
  for (const elf of [node, ...addons]) {
    // A library next to an addon (libonnxruntime.so.1, found through its $ORIGIN rpath) is
    // already staged with the app.
    for (const lib of sharedLibraries(elf)) if (!lib.startsWith(stagedRoot)) libs.add(lib);
  }
  for (const lib of libs) {
    const to = join(root, lib);
    mkdirSync(dirname(to), { recursive: true });
    copyFileSync(realpathSync(lib), to);
  }
  return { node, libs: [...libs].sort() };
}

/** The few files a libc program expects: users, name resolution, a writable /tmp. */
function stageSystemFiles(root) {
  mkdirSync(join(root, 'etc'), { recursive: true });
  writeFileSync(join(root, 'etc/passwd'), `root:x:0:0:root:/root:/sbin/nologin\ngradfleet:x:${APP_UID}:${APP_UID}:gradfleet:/tmp:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n`);
  writeFileSync(join(root, 'etc/group'), `root:x:0:\ngradfleet:x:${APP_UID}:\nnogroup:x:65534:\n`);
  // Docker and Kubernetes mount /etc/hosts and /etc/resolv.conf; this makes libc consult both.
  writeFileSync(join(root, 'etc/nsswitch.conf'), 'hosts: files dns\n');
  // World-writable with the sticky bit: tsx's compile cache, and the default run directory
  // when no volume is mounted, must work for whatever uid the orchestrator picks.
  for (const dir of ['tmp', 'app/runs']) {
    mkdirSync(join(root, dir), { recursive: true });
    chmodSync(join(root, dir), 0o1777);
  }
}

function main() {
  const root = process.argv[2];
  if (!root) throw new Error('usage: stage-rootfs.mjs <empty-dir>');
  if (existsSync(root) && readdirSync(root).length > 0) throw new Error(`${root} is not empty`);
  mkdirSync(root, { recursive: true });
  const appDir = join(root, 'app');
  stageApp(appDir);
  const packages = stageProductionModules(appDir);
  const runtime = stageRuntime(root, appDir);
  stageSystemFiles(root);
  const bytes = Number(execFileSync('du', ['-sb', root], { encoding: 'utf8' }).split('\t')[0]);
  console.error(`stage-rootfs: node ${process.version} (${runtime.node}), ${runtime.libs.length} shared libraries, ${packages} production packages, ${(bytes / 2 ** 20).toFixed(0)} MiB`);
  if (statSync(join(root, 'usr/local/bin/node')).size === 0) throw new Error('staged node binary is empty');
}

main();
