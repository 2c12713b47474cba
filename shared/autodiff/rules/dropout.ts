/** Gradient rules: dropout family (being written). */
import type { RuleTable } from '../registry.js';

export const dropoutRules: RuleTable = {};
