/**
 * Offline schema checks for Kubernetes objects: each object is validated against the OpenAPI
 * schema of its apiVersion/kind as published by kubernetes-models (no cluster needed). Types,
 * required fields and formats are checked ("spec/replicas must be integer"); unknown fields are
 * not, which is why the manifest tests also read every field they depend on.
 */

/** A Kubernetes object as rendered by kustomize. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
}

interface ModelClass {
  new (data: unknown): { validate(): void };
}

/** The API groups a gradfleet deployment may use, each with kubernetes-models' module for it. */
const MODULES: Record<string, () => Promise<Record<string, unknown>>> = {
  v1: () => import('kubernetes-models/v1'),
  'apps/v1': () => import('kubernetes-models/apps/v1'),
  'batch/v1': () => import('kubernetes-models/batch/v1'),
  'policy/v1': () => import('kubernetes-models/policy/v1'),
  'networking.k8s.io/v1': () => import('kubernetes-models/networking.k8s.io/v1'),
  'rbac.authorization.k8s.io/v1': () => import('kubernetes-models/rbac.authorization.k8s.io/v1'),
  'autoscaling/v2': () => import('kubernetes-models/autoscaling/v2'),
};

async function modelClass(apiVersion: string, kind: string): Promise<ModelClass> {
  const load = MODULES[apiVersion];
  if (!load) throw new Error(`no schemas loaded for apiVersion '${apiVersion}' (known: ${Object.keys(MODULES).join(', ')})`);
  const cls = (await load())[kind];
  if (typeof cls !== 'function') throw new Error(`no schema for kind '${kind}' in apiVersion '${apiVersion}'`);
  return cls as ModelClass;
}

/** Throws an Error naming the object and every schema violation; resolves when the object is valid. */
export async function validateK8sObject(obj: K8sObject): Promise<void> {
  const Model = await modelClass(obj.apiVersion, obj.kind);
  try {
    new Model(obj).validate();
  } catch (e) {
    throw new Error(`${obj.kind}/${obj.metadata?.name ?? '?'}: ${(e as Error).message}`);
  }
}
