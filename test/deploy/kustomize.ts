/** Renders a kustomization with the kubectl client (no cluster needed) and parses its objects. */
import { execFileSync } from 'node:child_process';
import { parseAllDocuments } from 'yaml';
import type { K8sObject } from './k8s-schema.js';

/** Why kubectl cannot render here, or undefined when it can. */
export function kubectlUnavailable(): string | undefined {
  try {
    execFileSync('kubectl', ['kustomize', '--help'], { stdio: 'ignore', timeout: 20_000 });
    return undefined;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'kubectl is not installed' : `kubectl kustomize does not run: ${(e as Error).message}`;
  }
}

/** `kubectl kustomize <dir>`, parsed into its objects (YAML errors throw). */
export function renderKustomization(dir: string): K8sObject[] {
  const text = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8', timeout: 60_000 });
  return parseAllDocuments(text).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`kubectl kustomize ${dir} printed invalid YAML: ${doc.errors[0]!.message}`);
    return doc.toJS() as K8sObject;
  });
}
