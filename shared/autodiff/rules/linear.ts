/** Gradient rules: linear family (being written). */
import type { RuleTable } from '../registry.js';

export const linearRules: RuleTable = {};
