/**
 * Where the step's float32 vectors live: one WebAssembly memory that the SIMD kernels
 * (step-kernels.wat) work on in place, handed out as FlatVectors — a model's tensors laid end to
 * end, each padded to a multiple of 4 values so that every kernel runs whole 4-lane vectors with
 * no scalar tail. Padding is zero when a vector is handed out, and every kernel maps zeros to
 * zeros (0 + 0, 0·s, 0/d, an optimizer step on w = g = m = v = 0), so padding never holds
 * anything but zeros and never changes a sum of squares.
 *
 * Two kinds of arena:
 * - growable: a shared memory that grows when it runs out; views handed out earlier stay valid
 *   (a shared buffer is never detached). The coordinator's, whose count of gradient pieces in
 *   flight follows the number of workers.
 * - fixed: an ordinary memory of a size chosen up front that never grows. onnxruntime-node
 *   refuses arrays backed by a SharedArrayBuffer, so vectors that are session inputs or
 *   pre-allocated session outputs come from a fixed arena.
 */
import { KernelError } from './errors.js';
import { PLAIN_MEMORY_KERNELS, SHARED_MEMORY_KERNELS } from './step-kernels.wasm.js';

const PAGE = 65536;
const MAX_PAGES = 65536;
const LANES = 4;
/** Bytes at the start of every arena left unused, so that no vector sits at a null-looking offset 0. */
const RESERVED = 16;

/** The exports of step-kernels.wat (byte offsets and element counts; counts are multiples of 4). */
export interface KernelExports {
  add(dst: number, a: number, b: number, n: number): void;
  scale(dst: number, src: number, s: number, n: number): void;
  sumsq(p: number, n: number): number;
  scale_clamp_sumsq(g: number, n: number, s: number, limit: number): number;
  first_nonfinite(p: number, n: number): number;
  sgd(w: number, g: number, n: number, lr: number, s: number, l2: number, l1: number): void;
  momentum(w: number, g: number, v: number, n: number, lr: number, mu: number, s: number, l2: number, l1: number, nesterov: number): void;
  adam(w: number, g: number, m: number, v: number, n: number, b1: number, c1: number, b2: number, c2: number, ss: number, isb2: number, eps: number, keep: number, s: number, l2: number, l1: number): void;
}

const compiled = new Map<boolean, WebAssembly.Module>();

function kernelModule(shared: boolean): WebAssembly.Module {
  let m = compiled.get(shared);
  if (!m) compiled.set(shared, (m = new WebAssembly.Module(Buffer.from(shared ? SHARED_MEMORY_KERNELS : PLAIN_MEMORY_KERNELS, 'base64'))));
  return m;
}

/** Values a tensor of `n` values takes in a FlatVector: n rounded up to whole 4-lane vectors. */
export function paddedLength(n: number): number {
  return Math.ceil(n / LANES) * LANES;
}

/** Where each tensor starts in the padded layout (element offsets, multiples of 4), then the padded total. */
export function layoutOffsets(sizes: readonly number[]): number[] {
  const offsets = [0];
  for (const n of sizes) offsets.push(offsets.at(-1)! + paddedLength(n));
  return offsets;
}

/** Views of each tensor in a buffer laid out like a FlatVector (padded, from byte `byteOffset`). */
export function layoutViews(buffer: ArrayBufferLike, sizes: readonly number[], byteOffset = 0): Float32Array[] {
  const offsets = layoutOffsets(sizes);
  return sizes.map((n, i) => new Float32Array(buffer, byteOffset + offsets[i]! * 4, n));
}

/** A model's tensors laid end to end in an arena, each padded to a multiple of 4 values. */
export class FlatVector {
  /** One view per tensor, of its exact length. */
  readonly parts: Float32Array[];
  /** Element offset of each tensor (a multiple of 4), then the padded total. */
  readonly offsets: readonly number[];

  constructor(
    readonly arena: Arena,
    /** Byte offset in the arena's memory. */
    readonly ptr: number,
    readonly sizes: readonly number[],
    /** Every value, padding included. */
    readonly whole: Float32Array,
  ) {
    const offsets = layoutOffsets(sizes);
    this.offsets = offsets;
    this.parts = sizes.map((n, i) => whole.subarray(offsets[i]!, offsets[i]! + n));
  }

  /** Values including padding (a multiple of 4). */
  get padded(): number {
    return this.whole.length;
  }

  /** Copies every tensor of `values` (exact lengths, in order) in. */
  setParts(values: readonly ArrayLike<number>[]): void {
    if (values.length !== this.parts.length) throw new KernelError(`expected ${this.parts.length} tensors, got ${values.length}`);
    values.forEach((v, i) => {
      if (v.length !== this.sizes[i]) throw new KernelError(`tensor ${i} has ${v.length} values, the vector holds ${this.sizes[i]}`);
      this.parts[i]!.set(v);
    });
  }

  /** Copies another vector of the same layout in (padding included). */
  copyFrom(other: FlatVector): void {
    if (!sameLayout(this.sizes, other.sizes)) throw new KernelError('vectors of different layouts');
    this.whole.set(other.whole);
  }

  /** The tensor and element of a padded index. */
  locate(index: number): { part: number; element: number } {
    let p = 0;
    while (p + 1 < this.sizes.length && this.offsets[p + 1]! <= index) p++;
    return { part: p, element: index - this.offsets[p]! };
  }
}

export function sameLayout(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((n, i) => n === b[i]);
}

export class Arena {
  readonly memory: WebAssembly.Memory;
  /** The kernels, bound to this arena's memory. */
  readonly kernels: KernelExports;
  private top = 0;
  /** Released blocks by byte size, for reuse. */
  private readonly free = new Map<number, number[]>();
  private pages: number;

  private constructor(
    readonly shared: boolean,
    pages: number,
    /** The most pages this arena may take (fixed arenas: its size). */
    private readonly maxPages: number,
  ) {
    this.memory = new WebAssembly.Memory({ initial: pages, maximum: shared ? MAX_PAGES : maxPages, ...(shared ? { shared: true } : {}) });
    this.pages = pages;
    this.kernels = new WebAssembly.Instance(kernelModule(shared), { env: { memory: this.memory } }).exports as unknown as KernelExports;
  }

  /** An arena that grows as needed (shared memory): not for onnxruntime's inputs or outputs. */
  static growable(initialBytes = 16 * PAGE): Arena {
    return new Arena(true, Math.max(1, Math.ceil(initialBytes / PAGE)), MAX_PAGES);
  }

  /** An arena of at most `bytes` that never grows (ordinary memory: onnxruntime may read and write its views). */
  static fixed(bytes: number): Arena {
    const pages = Math.max(1, Math.ceil(bytes / PAGE));
    if (pages > MAX_PAGES) throw new KernelError(`an arena of ${bytes} bytes exceeds WebAssembly's 4 GiB`);
    return new Arena(false, pages, pages);
  }

  /** Bytes a fixed arena needs for `count` vectors of these tensor sizes. */
  static bytesFor(sizes: readonly number[], count: number): number {
    return RESERVED + count * sizes.reduce((a, n) => a + paddedLength(n), 0) * 4;
  }

  /** A fixed arena with room for exactly these vectors (and nothing more). */
  static fixedFor(vectors: readonly { sizes: readonly number[]; count: number }[]): Arena {
    return Arena.fixed(vectors.reduce((a, v) => a + Arena.bytesFor(v.sizes, v.count) - RESERVED, RESERVED));
  }

  /** A zero-filled vector with one tensor per entry of `sizes`. */
  vector(sizes: readonly number[]): FlatVector {
    const padded = sizes.reduce((a, n) => a + paddedLength(n), 0);
    const bytes = padded * 4;
    const reuse = this.free.get(bytes)?.pop();
    const ptr = reuse ?? this.take(bytes);
    const whole = new Float32Array(this.memory.buffer, ptr, padded);
    if (reuse !== undefined) whole.fill(0);
    return new FlatVector(this, ptr, sizes, whole);
  }

  /** Hands a vector back for reuse; it must not be used afterwards. */
  release(v: FlatVector): void {
    if (v.arena !== this) throw new KernelError('vector released to an arena that did not allocate it');
    const bytes = v.padded * 4;
    let list = this.free.get(bytes);
    if (!list) this.free.set(bytes, (list = []));
    list.push(v.ptr);
  }

  /** Bytes handed out so far (high-water mark). */
  get used(): number {
    return this.top;
  }

  private take(bytes: number): number {
    const ptr = Math.max(this.top, RESERVED);
    const end = ptr + bytes;
    const need = Math.ceil(end / PAGE);
    if (need > this.pages) {
      if (!this.shared || need > this.maxPages) {
        throw new KernelError(`arena full: ${end} bytes needed, ${this.pages * PAGE} available${this.shared ? '' : ' (a fixed arena does not grow; size it for every vector it holds)'}`);
      }
      const grow = Math.min(this.maxPages, Math.max(need, this.pages * 2)) - this.pages;
      this.memory.grow(grow);
      this.pages += grow;
    }
    this.top = end;
    return ptr;
  }
}
