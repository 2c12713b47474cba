/** Registers every op family's rules. Import this once before compiling a graph. */
import { registerRules } from '../registry.js';
import { arithmeticRules } from './arithmetic.js';
import { reduceRules } from './reduce.js';
import { activationRules } from './activations.js';
import { mathRules } from './math.js';
import { softmaxRules } from './softmax.js';
import { linearRules } from './linear.js';
import { convRules } from './conv.js';
import { poolRules } from './pool.js';
import { normalizationRules } from './normalization.js';
import { layerNormRules } from './layernorm.js';
import { dropoutRules } from './dropout.js';
import { shapeRules } from './shape.js';
import { padRules } from './pad.js';
import { noGradRules } from './nograd.js';
import { extremaRules } from './extrema.js';
import { modRules } from './mod.js';
import { quantizeRules } from './quantize.js';

for (const rules of [arithmeticRules, reduceRules, activationRules, mathRules, softmaxRules, linearRules, convRules, poolRules, normalizationRules, layerNormRules, dropoutRules, shapeRules, padRules, noGradRules, extremaRules, modRules, quantizeRules]) registerRules(rules);
