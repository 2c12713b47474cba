/** Gradient rules: conv family (being written). */
import type { RuleTable } from '../registry.js';

export const convRules: RuleTable = {};
