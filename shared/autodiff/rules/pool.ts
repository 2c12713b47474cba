/** Gradient rules: pool family (being written). */
import type { RuleTable } from '../registry.js';

export const poolRules: RuleTable = {};
