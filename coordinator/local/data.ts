/** The data the single-process trainer uses by default, and fitting any split to the model's input. */
import { loadDigits } from '../../shared/data/digits.js';
import { splitData, type SplitData } from '../../shared/data/split.js';
import { withFeatureShape } from '../../shared/data/reshape.js';
import type { Shape } from '../../shared/onnx/shapes.js';
import { LocalTrainError } from './errors.js';

/** The bundled 10,000 digits split into train / validation / test by `seed`. */
export function bundledDigitsSplit(parts: { validation: number; test: number }, seed: number): SplitData {
  return splitData({ train: loadDigits() }, { validation: parts.validation, test: parts.test, seed });
}

/**
 * The same samples seen with the model input's per-sample shape (e.g. the digits' [784] as
 * [1, 28, 28] for a CNN). Throws when the sizes differ.
 */
export function fitToModelInput(data: SplitData, inputShape: Shape): SplitData {
  const perSample = inputShape.slice(1);
  if (!perSample.every((d): d is number => typeof d === 'number')) {
    throw new LocalTrainError(`the model input has shape [${inputShape.join(', ')}]; only the batch dimension may be symbolic`);
  }
  const fit = (part: SplitData['train']) => ({ dataset: withFeatureShape(part.dataset, perSample), indices: part.indices });
  return { train: fit(data.train), validation: fit(data.validation), test: fit(data.test) };
}
