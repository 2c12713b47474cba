#!/usr/bin/env node
// Regenerates shared/proto/gen from proto/*.proto with the repo's own buf + ts-proto (works offline).
// Nobody edits the output by hand: run `npm run proto` after changing a .proto file.
import { execFileSync } from 'node:child_process';
import { rmSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'shared/proto/gen');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
execFileSync(join(root, 'node_modules/.bin/buf'), ['generate'], { cwd: root, stdio: 'inherit' });
console.log('generated', out);
