/**
 * Which device a worker really runs on, found before it registers: a one-node model is opened on
 * the requested device, and a CUDA provider that cannot be loaded falls back to the CPU, loudly.
 * The worker then registers with the device it has, and opens its real sessions there.
 */
import { GraphProto, NodeProto } from '../shared/proto/gen/onnx.js';
import { encodeModel, makeModel, valueInfo } from '../shared/onnx/model.js';
import { DT } from '../shared/onnx/tensor.js';
import { openSession } from '../shared/engine/open-session.js';
import { deviceFor } from '../shared/engine/registry.js';
import type { Device, DeviceKind } from '../shared/engine/device.js';

function probeModel(): Uint8Array {
  const graph = GraphProto.fromPartial({
    name: 'device_probe',
    node: [NodeProto.fromPartial({ name: 'probe', opType: 'Identity', input: ['x'], output: ['y'] })],
    input: [valueInfo('x', DT.FLOAT, [1])],
    output: [valueInfo('y', DT.FLOAT, [1])],
  });
  return encodeModel(makeModel(graph));
}

/**
 * The device kind sessions will really use. `onFallback` hears why CUDA was not available.
 */
export async function probeDevice(kind: DeviceKind, onFallback: (reason: string) => void): Promise<DeviceKind> {
  if (kind === 'cpu') return 'cpu';
  let fellBack = false;
  const requested: Device = deviceFor(kind);
  const { session, device } = await openSession(probeModel(), requested, (reason) => {
    fellBack = true;
    onFallback(reason);
  });
  await session.release();
  return fellBack ? 'cpu' : device.kind;
}
