/** Registers every op family's rules. Import this once before compiling a graph. */
import { registerRules } from '../registry.js';
import { arithmeticRules } from './arithmetic.js';
import { reduceRules } from './reduce.js';

registerRules(arithmeticRules);
registerRules(reduceRules);
