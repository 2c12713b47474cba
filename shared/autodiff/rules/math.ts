/** Gradient rules: math family (being written). */
import type { RuleTable } from '../registry.js';

export const mathRules: RuleTable = {};
