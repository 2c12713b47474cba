/** The committed kernel binaries are what step-kernels.wat assembles to (`npm run kernels` rewrites them). */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { kernelModuleSource } from '../../scripts/build-kernels.js';

describe('step kernels build', () => {
  it('step-kernels.wasm.ts holds exactly what step-kernels.wat assembles to', async () => {
    const wat = readFileSync(new URL('../../shared/kernels/step-kernels.wat', import.meta.url), 'utf8');
    const committed = readFileSync(new URL('../../shared/kernels/step-kernels.wasm.ts', import.meta.url), 'utf8');
    expect(committed).toBe(await kernelModuleSource(wat));
  });
});
