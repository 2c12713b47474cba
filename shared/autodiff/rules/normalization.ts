/** Gradient rules: normalization family (being written). */
import type { RuleTable } from '../registry.js';

export const normalizationRules: RuleTable = {};
