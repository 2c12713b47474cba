/** The step's float32 arithmetic (WebAssembly SIMD kernels) and the arenas its vectors live in. */
export * from './errors.js';
export { Arena, FlatVector, layoutOffsets, layoutViews, paddedLength, sameLayout, type KernelExports } from './arena.js';
