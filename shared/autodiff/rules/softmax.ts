/** Gradient rules: softmax family (being written). */
import type { RuleTable } from '../registry.js';

export const softmaxRules: RuleTable = {};
