/** The model spec: schema, loading, planning, initialisation and the forward-graph builder. */
export { modelSpecSchema, LAYER_TYPES, INIT_SCHEMES, type ModelSpec, type ModelSpecInput, type LayerSpec, type InitScheme } from './spec.js';
export { parseModelSpec, parseModelSpecText, loadModelSpec, validateModelSpec } from './load.js';
export { planModel, type ModelPlan, type ParamKind } from './plan.js';
export { buildForwardModel, BATCH_DIM, type ForwardModel, type BuildOptions } from './build.js';
export { defaultModelSpec } from './defaults.js';
export { ModelSpecError, type SpecIssue } from './errors.js';
