#!/usr/bin/env node
/**
 * onnxruntime-node ships prebuilt binaries for every OS and CPU (~250 MB); an image needs only
 * its own platform's. Removes the others under <node_modules>/onnxruntime-node/bin.
 *
 *   node deploy/docker/prune-ort-binaries.mjs <node_modules> [platform] [arch]
 *
 * Used by stage-rootfs.mjs (build-image.sh) and by the Dockerfile.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Removes every onnxruntime-node binary folder that is not for platform/arch; returns what it removed. */
export function pruneOrtBinaries(nodeModules, platform = process.platform, arch = process.arch) {
  const binRoot = join(nodeModules, 'onnxruntime-node/bin');
  const removed = [];
  if (!existsSync(binRoot)) return removed;
  let kept = 0;
  for (const napi of readdirSync(binRoot)) {
    for (const os of readdirSync(join(binRoot, napi))) {
      const osDir = join(binRoot, napi, os);
      for (const cpu of readdirSync(osDir)) {
        if (os === platform && cpu === arch) {
          kept++;
          continue;
        }
        rmSync(join(osDir, cpu), { recursive: true, force: true });
        removed.push(`${napi}/${os}/${cpu}`);
      }
      if (readdirSync(osDir).length === 0) rmSync(osDir, { recursive: true });
    }
  }
  if (kept === 0) throw new Error(`onnxruntime-node has no binary for ${platform}/${arch} under ${binRoot}`);
  return removed;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [nodeModules, platform, arch] = process.argv.slice(2);
  if (!nodeModules) throw new Error('usage: prune-ort-binaries.mjs <node_modules> [platform] [arch]');
  const removed = pruneOrtBinaries(nodeModules, platform, arch);
  console.error(`prune-ort-binaries: removed ${removed.length} foreign binary folders (${removed.join(', ') || 'none'})`);
}
