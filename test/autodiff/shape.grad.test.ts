import { describe, it, expect } from 'vitest';
import { gradcheck, type GradCase } from '../helpers/gradcheck.js';
import { inferenceMismatches } from './infer-check.js';
import type { GraphBuilder } from '../../shared/onnx/builder.js';
import { DT, boolTensor } from '../../shared/onnx/tensor.js';

/** Σ y², a scalar: lets a case whose output size is only known at run time still enter the loss. */
function sumOfSquares(b: GraphBuilder, y: string): string {
  return b.op('ReduceSum', [b.op('Mul', [y, y])], { keepdims: 0 });
}

const BIG = 1e12; // an "until the end" bound, clamped like torch's INT64_MAX

type Row = [string, GradCase];

const rows: Row[] = [
  ['Identity', { inputs: [{ name: 'X', shape: [2, 3] }], build: (b, [x]) => [b.op('Identity', [x!])] }],

  ['Flatten axis 1', { inputs: [{ name: 'X', shape: [2, 3, 4] }], build: (b, [x]) => [b.op('Flatten', [x!], { axis: 1 })] }],
  ['Flatten axis 0', { inputs: [{ name: 'X', shape: [2, 3, 4] }], build: (b, [x]) => [b.op('Flatten', [x!], { axis: 0 })] }],
  ['Flatten axis -1', { inputs: [{ name: 'X', shape: [2, 3, 4] }], build: (b, [x]) => [b.op('Flatten', [x!], { axis: -1 })] }],
  ['Flatten axis = rank', { inputs: [{ name: 'X', shape: [2, 3] }], build: (b, [x]) => [b.op('Flatten', [x!], { axis: 2 })] }],

  ['Reshape with 0 and -1', { inputs: [{ name: 'X', shape: [2, 3, 4] }], build: (b, [x]) => [b.op('Reshape', [x!, b.ints([0, -1])])] }],
  ['Reshape with leading -1', { inputs: [{ name: 'X', shape: [2, 3, 4] }], build: (b, [x]) => [b.op('Reshape', [x!, b.ints([-1, 6, 2])])] }],
  ['Reshape allowzero=1', { inputs: [{ name: 'X', shape: [2, 3, 4] }], build: (b, [x]) => [b.op('Reshape', [x!, b.ints([4, 6])], { allowzero: 1 })] }],
  [
    'Reshape to a target computed by Shape→Gather→Unsqueeze→Concat',
    {
      inputs: [{ name: 'X', shape: [2, 3, 4] }],
      build: (b, [x]) => {
        const n = b.op('Unsqueeze', [b.op('Gather', [b.op('Shape', [x!]), b.ints([0], [])], { axis: 0 }), b.ints([0])]);
        return [b.op('Reshape', [x!, b.op('Concat', [n, b.ints([-1])], { axis: 0 })])];
      },
    },
  ],

  ['Transpose perm [2,0,1]', { inputs: [{ name: 'X', shape: [2, 3, 4] }], build: (b, [x]) => [b.op('Transpose', [x!], { perm: [2, 0, 1] })] }],
  ['Transpose default (reversed)', { inputs: [{ name: 'X', shape: [2, 3, 4] }], build: (b, [x]) => [b.op('Transpose', [x!])] }],

  [
    'Concat axis 1, three uneven inputs',
    {
      inputs: [
        { name: 'A', shape: [2, 1, 3] },
        { name: 'B', shape: [2, 4, 3] },
        { name: 'C', shape: [2, 2, 3] },
      ],
      build: (b, [a, bb, c]) => [b.op('Concat', [a!, bb!, c!], { axis: 1 })],
    },
  ],
  [
    'Concat axis -1',
    {
      inputs: [
        { name: 'A', shape: [2, 3] },
        { name: 'B', shape: [2, 5] },
      ],
      build: (b, [a, bb]) => [b.op('Concat', [a!, bb!], { axis: -1 })],
    },
  ],
  [
    'Concat axis 0 with a constant input',
    {
      inputs: [
        { name: 'A', shape: [2, 3] },
        { name: 'K', shape: [1, 3], constant: true },
      ],
      build: (b, [a, k]) => [b.op('Concat', [k!, a!], { axis: 0 })],
    },
  ],

  ['Split by split input [1,3] on axis 1', { inputs: [{ name: 'X', shape: [2, 4, 3] }], build: (b, [x]) => b.add('Split', [x!, b.ints([1, 3])], { axis: 1 }, 2) }],
  ['Split equally into 3 on axis -1', { inputs: [{ name: 'X', shape: [2, 6] }], build: (b, [x]) => b.add('Split', [x!], { axis: -1 }, 3) }],
  [
    'Split uneven [2,1,3] with the middle output unused',
    {
      inputs: [{ name: 'X', shape: [6, 2] }],
      build: (b, [x]) => {
        const [p, , r] = b.add('Split', [x!, b.ints([2, 1, 3])], { axis: 0 }, 3);
        return [p!, r!];
      },
    },
  ],

  ['Slice step 1 (padding path)', { inputs: [{ name: 'X', shape: [3, 5] }], build: (b, [x]) => [b.op('Slice', [x!, b.ints([1]), b.ints([3]), b.ints([1])])] }],
  ['Slice negative start, clamped end, two axes', { inputs: [{ name: 'X', shape: [4, 5] }], build: (b, [x]) => [b.op('Slice', [x!, b.ints([-3, 0]), b.ints([BIG, 2]), b.ints([0, 1])])] }],
  ['Slice without axes and steps', { inputs: [{ name: 'X', shape: [4, 3, 2] }], build: (b, [x]) => [b.op('Slice', [x!, b.ints([1, 0]), b.ints([3, 2])])] }],
  ['Slice step 2', { inputs: [{ name: 'X', shape: [3, 5] }], build: (b, [x]) => [b.op('Slice', [x!, b.ints([0]), b.ints([5]), b.ints([1]), b.ints([2])])] }],
  ['Slice step -1 reverses an axis', { inputs: [{ name: 'X', shape: [4, 3] }], build: (b, [x]) => [b.op('Slice', [x!, b.ints([-1]), b.ints([-BIG]), b.ints([0]), b.ints([-1])])] }],
  ['Slice step -2 on axis -1', { inputs: [{ name: 'X', shape: [2, 6] }], build: (b, [x]) => [b.op('Slice', [x!, b.ints([4]), b.ints([0]), b.ints([-1]), b.ints([-2])])] }],
  [
    'Slice with bounds fed at run time',
    {
      inputs: [
        { name: 'X', shape: [4, 6] },
        { name: 'starts', shape: [2], type: 'int64', values: [1, -1] },
        { name: 'ends', shape: [2], type: 'int64', values: [BIG, 0] },
        { name: 'steps', shape: [2], type: 'int64', values: [2, -2] },
      ],
      build: (b, [x, s, e, st]) => [sumOfSquares(b, b.op('Slice', [x!, s!, e!, b.ints([0, 1]), st!]))],
    },
  ],

  ['Squeeze axes [1]', { inputs: [{ name: 'X', shape: [3, 1, 4] }], build: (b, [x]) => [b.op('Squeeze', [x!, b.ints([1])])] }],
  ['Squeeze axes [-1]', { inputs: [{ name: 'X', shape: [3, 4, 1] }], build: (b, [x]) => [b.op('Squeeze', [x!, b.ints([-1])])] }],
  ['Squeeze every 1-dim (no axes)', { inputs: [{ name: 'X', shape: [1, 3, 1] }], build: (b, [x]) => [b.op('Squeeze', [x!])] }],
  ['Unsqueeze axes [0,-1]', { inputs: [{ name: 'X', shape: [3, 4] }], build: (b, [x]) => [b.op('Unsqueeze', [x!, b.ints([0, -1])])] }],
  ['Unsqueeze axes [1]', { inputs: [{ name: 'X', shape: [2, 3] }], build: (b, [x]) => [b.op('Unsqueeze', [x!, b.ints([1])])] }],

  ['Expand [3,1] to [2,3,4]', { inputs: [{ name: 'X', shape: [3, 1] }], build: (b, [x]) => [b.op('Expand', [x!, b.ints([2, 3, 4])])] }],
  ['Expand [4] to [3,4]', { inputs: [{ name: 'X', shape: [4] }], build: (b, [x]) => [b.op('Expand', [x!, b.ints([3, 4])])] }],
  ['Expand [2,3] by [1,1] (no-op shape)', { inputs: [{ name: 'X', shape: [2, 3] }], build: (b, [x]) => [b.op('Expand', [x!, b.ints([1, 1])])] }],
  ['Expand scalar to [2,2]', { inputs: [{ name: 'X', shape: [] }], build: (b, [x]) => [b.op('Expand', [x!, b.ints([2, 2])])] }],

  [
    'Gather embedding [5,3], constant indices with repeats and negatives',
    {
      inputs: [
        { name: 'E', shape: [5, 3] },
        { name: 'I', shape: [2, 4], type: 'int64', values: [0, 4, -1, 2, 0, 0, 3, -5], constant: true },
      ],
      build: (b, [e, i]) => [b.op('Gather', [e!, i!], { axis: 0 })],
    },
  ],
  [
    'Gather embedding [5,3], fed indices with repeats and negatives',
    {
      inputs: [
        { name: 'E', shape: [5, 3] },
        { name: 'I', shape: [2, 4], type: 'int64', values: [0, 4, -1, 2, 0, 0, 3, -5] },
      ],
      build: (b, [e, i]) => [b.op('Gather', [e!, i!], { axis: 0 })],
    },
  ],
  [
    'Gather embedding with int32 indices',
    {
      inputs: [
        { name: 'E', shape: [4, 2] },
        { name: 'I', shape: [5], type: 'int64', values: [3, 3, -4, 1, 3] },
      ],
      build: (b, [e, i]) => [b.op('Gather', [e!, b.op('Cast', [i!], { to: DT.INT32 })], { axis: 0 })],
    },
  ],
  [
    'Gather axis 1 with 2-D indices',
    {
      inputs: [
        { name: 'X', shape: [3, 5, 2] },
        { name: 'I', shape: [2, 2], type: 'int64', values: [1, -1, 1, 0] },
      ],
      build: (b, [x, i]) => [b.op('Gather', [x!, i!], { axis: 1 })],
    },
  ],
  [
    'Gather axis -1',
    {
      inputs: [
        { name: 'X', shape: [2, 3, 4] },
        { name: 'I', shape: [3], type: 'int64', values: [3, 0, 3] },
      ],
      build: (b, [x, i]) => [b.op('Gather', [x!, i!], { axis: -1 })],
    },
  ],
  [
    'Gather a scalar index on axis 1',
    { inputs: [{ name: 'X', shape: [3, 4] }], build: (b, [x]) => [b.op('Gather', [x!, b.ints([-2], [])], { axis: 1 })] },
  ],

  [
    'Where with a constant condition, broadcast X [3,4] and Y [4]',
    {
      inputs: [
        { name: 'X', shape: [3, 4] },
        { name: 'Y', shape: [4] },
      ],
      build: (b, [x, y]) => {
        const c = b.initializer(boolTensor(b.fresh('cond'), [3, 1], [true, false, true]));
        return [b.op('Where', [c, x!, y!])];
      },
    },
  ],
  [
    'Where with a computed condition (leaky ReLU)',
    {
      inputs: [{ name: 'X', shape: [3, 4] }],
      avoid: (v) => (Math.abs(v) < 0.05 ? v + 0.1 : v),
      build: (b, [x]) => [b.op('Where', [b.op('Greater', [x!, b.scalar(0)]), x!, b.op('Mul', [x!, b.scalar(0.1)])])],
    },
  ],

  [
    'Cast float→double→float around a Mul',
    {
      inputs: [{ name: 'X', shape: [2, 3] }],
      build: (b, [x]) => {
        const d = b.op('Cast', [x!], { to: DT.DOUBLE });
        return [b.op('Cast', [b.op('Mul', [d, d])], { to: DT.FLOAT })];
      },
    },
  ],
  [
    'Cast through int64 carries no gradient',
    {
      inputs: [{ name: 'X', shape: [2, 3], lo: -3, hi: 3 }],
      // Keep values half-way between integers so that ±eps never changes the truncation.
      avoid: (v) => Math.floor(v) + 0.5,
      build: (b, [x]) => [b.op('Add', [x!, b.op('Cast', [b.op('Cast', [x!], { to: DT.INT64 })], { to: DT.FLOAT })])],
    },
  ],

  ['Tile repeats [2,1,3]', { inputs: [{ name: 'X', shape: [2, 3, 2] }], build: (b, [x]) => [b.op('Tile', [x!, b.ints([2, 1, 3])])] }],
  [
    'Tile with repeats fed at run time',
    {
      inputs: [
        { name: 'X', shape: [2, 3] },
        { name: 'R', shape: [2], type: 'int64', values: [3, 2] },
      ],
      build: (b, [x, r]) => [sumOfSquares(b, b.op('Tile', [x!, r!]))],
    },
  ],
];

describe('shape-op gradient rules match central differences', () => {
  for (const [label, c] of rows) {
    it(label, async () => {
      const r = await gradcheck(c);
      expect(r.checked).toBeGreaterThan(0);
      expect(r.maxAbsErr).toBeLessThan(5e-3);
    });
  }

  it('accumulates repeated embedding rows: each row gets the sum of the dY rows that chose it', async () => {
    const indices = [2, -1, 2, 0, 2];
    const r = await gradcheck({
      inputs: [
        { name: 'E', shape: [3, 2] },
        { name: 'I', shape: [5], type: 'int64', values: indices },
      ],
      build: (b, [e, i]) => [b.op('Gather', [e!, i!], { axis: 0 })],
    });
    // Row 2 is picked by indices 2, -1, 2, 2 (four times), row 1 never: its gradient is exactly 0.
    expect(Array.from(r.analytic.E!.slice(2, 4))).toEqual([0, 0]);
    expect(r.analytic.E!.slice(4).some((v) => v !== 0)).toBe(true);
  });
});

describe('shape-op shape rules agree with onnxruntime', () => {
  const X = { name: 'X', declared: [2, 3, 4], shape: [2, 3, 4], type: 'float' as const, values: Array.from({ length: 24 }, (_, i) => i) };
  const cases: [string, Parameters<typeof inferenceMismatches>[0]['build']][] = [
    ['Flatten, Reshape, Transpose, Squeeze, Unsqueeze', (b, [x]) => [b.op('Flatten', [x!], { axis: 2 }), b.op('Reshape', [x!, b.ints([0, -1, 2])]), b.op('Transpose', [x!], { perm: [1, 2, 0] }), b.op('Squeeze', [b.op('Unsqueeze', [x!, b.ints([1, -1])]), b.ints([1])])]],
    ['Concat, Split, Tile, Expand', (b, [x]) => [b.op('Concat', [x!, x!], { axis: -2 }), ...b.add('Split', [x!, b.ints([1, 3])], { axis: 2 }, 2), b.op('Tile', [x!, b.ints([1, 2, 1])]), b.op('Expand', [b.op('Unsqueeze', [x!, b.ints([0])]), b.ints([3, 1, 1, 1])])]],
    ['Slice with clamped, negative and reversed bounds', (b, [x]) => [b.op('Slice', [x!, b.ints([-2, 10, 1]), b.ints([BIG, -BIG, 2]), b.ints([1, 2, 0]), b.ints([1, -3, 1])])]],
    ['Gather, Where, Cast', (b, [x]) => [b.op('Gather', [x!, b.ints([[0, 2], [1, 1]].flat(), [2, 2])], { axis: 1 }), b.op('Where', [b.op('Greater', [x!, b.scalar(5)]), x!, b.scalar(0)]), b.op('Cast', [x!], { to: DT.INT64 })]],
    [
      'folded shape values: Shape sliced, gathered, cast and concatenated',
      (b, [x]) => {
        const s = b.op('Shape', [x!]);
        const tail = b.op('Slice', [s, b.ints([1]), b.ints([BIG])]);
        const first = b.op('Gather', [s, b.ints([0], [])], { axis: 0 });
        const cat = b.op('Concat', [tail, b.op('Unsqueeze', [first, b.ints([0])]), b.ints([-1])], { axis: 0 });
        return [tail, first, cat, b.op('Cast', [cat], { to: DT.FLOAT }), b.op('Squeeze', [b.op('Slice', [s, b.ints([2]), b.ints([3])]), b.ints([0])])];
      },
    ],
  ];
  for (const [label, build] of cases) {
    it(label, async () => {
      expect(await inferenceMismatches({ inputs: [X], build })).toEqual([]);
    });
  }
});
