/** Gradient rules: activations family (being written). */
import type { RuleTable } from '../registry.js';

export const activationRules: RuleTable = {};
