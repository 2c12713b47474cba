/** Gradient rules: nograd family (being written). */
import type { RuleTable } from '../registry.js';

export const noGradRules: RuleTable = {};
