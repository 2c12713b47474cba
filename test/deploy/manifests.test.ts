/**
 * The Kubernetes manifests (deploy/k8s): each overlay renders with `kubectl kustomize`, every
 * object passes its Kubernetes schema offline, and the pieces fit together: the worker's
 * --coordinator address is the Service, the Service reaches the coordinator's gRPC port, the
 * probes ask the health service the coordinator serves, the job in the ConfigMap is a valid job
 * where --config reads it, and the run directory lives on the PersistentVolumeClaim.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, posix } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { IDeployment } from 'kubernetes-models/apps/v1';
import type { IConfigMap, IContainer, IPersistentVolumeClaim, IService } from 'kubernetes-models/v1';
import { HEALTH_SERVICE } from '../../coordinator/coordinator.js';
import { readJobFile } from '../../coordinator/job/load.js';
import { validateK8sObject, type K8sObject } from './k8s-schema.js';
import { kubectlUnavailable, renderKustomization } from './kustomize.js';

const K8S = 'deploy/k8s';
const skipReason = kubectlUnavailable();
if (skipReason) console.warn(`[test/deploy/manifests] skipped: ${skipReason} (install kubectl, which bundles kustomize)`);

function find<T>(objects: K8sObject[], kind: string, name: string | RegExp): T {
  const hits = objects.filter((o) => o.kind === kind && (typeof name === 'string' ? o.metadata.name === name : name.test(o.metadata.name)));
  if (hits.length !== 1) throw new Error(`expected one ${kind} named ${name}, found ${hits.length}: ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  return hits[0] as T;
}

function onlyContainer(d: IDeployment): IContainer {
  const containers = d.spec!.template.spec!.containers;
  expect(containers, `${d.metadata!.name} containers`).toHaveLength(1);
  return containers[0]!;
}

/** The value after `flag` in a container's args (undefined when the flag is absent). */
function argValue(c: IContainer, flag: string): string | undefined {
  const args = c.args ?? [];
  const at = args.indexOf(flag);
  return at < 0 ? undefined : args[at + 1];
}

/** The volume mounted at the deepest mountPath that contains `path`. */
function volumeHolding(d: IDeployment, c: IContainer, path: string) {
  const mount = (c.volumeMounts ?? []).filter((m) => path === m.mountPath || path.startsWith(m.mountPath.replace(/\/?$/, '/'))).sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
  if (!mount) throw new Error(`${d.metadata!.name}: no volume is mounted over ${path}`);
  const volume = (d.spec!.template.spec!.volumes ?? []).find((v) => v.name === mount.name);
  if (!volume) throw new Error(`${d.metadata!.name}: volumeMount ${mount.name} names no volume`);
  return { mount, volume };
}

const matches = (selector: Record<string, string>, labels: Record<string, string> = {}) => Object.entries(selector).every(([k, v]) => labels[k] === v);

describe.skipIf(skipReason !== undefined)('Kubernetes manifests (deploy/k8s)', () => {
  const rendered = new Map<string, K8sObject[]>();
  const render = (dir: string) => {
    if (!rendered.has(dir)) rendered.set(dir, renderKustomization(join(K8S, dir)));
    return rendered.get(dir)!;
  };

  it.each(['base', 'overlays/cpu', 'overlays/gpu'])('%s renders and every object passes its Kubernetes schema', async (dir) => {
    const objects = render(dir);
    expect(objects.map((o) => o.kind).sort()).toEqual(['ConfigMap', 'Deployment', 'Deployment', 'PersistentVolumeClaim', 'Service']);
    for (const o of objects) await validateK8sObject(o);
  });

  it('the schema check rejects a malformed object', async () => {
    const coordinator = structuredClone(find<K8sObject>(render('overlays/cpu'), 'Deployment', 'gradfleet-coordinator'));
    (coordinator.spec as { replicas: unknown }).replicas = '1';
    await expect(validateK8sObject(coordinator)).rejects.toThrow(/replicas must be integer/);
    await expect(validateK8sObject({ apiVersion: 'apps/v1', kind: 'Deploymnet', metadata: { name: 'x' } })).rejects.toThrow(/no schema for kind 'Deploymnet'/);
  });

  describe('cpu overlay', () => {
    const objects = () => render('overlays/cpu');
    const coordinator = () => find<IDeployment>(objects(), 'Deployment', 'gradfleet-coordinator');
    const worker = () => find<IDeployment>(objects(), 'Deployment', 'gradfleet-worker');
    const service = () => find<IService>(objects(), 'Service', 'gradfleet-coordinator');

    it('runs exactly one coordinator, replaced with Recreate so two never run at once', () => {
      expect(coordinator().spec!.replicas).toBe(1);
      expect(coordinator().spec!.strategy?.type).toBe('Recreate');
      expect(worker().spec!.replicas).toBeGreaterThanOrEqual(2);
    });

    it('selects each Deployment its own pods, and the Service only the coordinator', () => {
      for (const d of [coordinator(), worker()]) expect(matches(d.spec!.selector.matchLabels!, d.spec!.template.metadata!.labels), d.metadata!.name).toBe(true);
      expect(matches(service().spec!.selector!, coordinator().spec!.template.metadata!.labels)).toBe(true);
      expect(matches(service().spec!.selector!, worker().spec!.template.metadata!.labels)).toBe(false);
    });

    it("listens on the port the Service targets and probes it through the coordinator's gRPC health service", () => {
      const c = onlyContainer(coordinator());
      const port = Number(argValue(c, '--port'));
      expect(argValue(c, '--host')).toBe('0.0.0.0');
      const [svcPort] = service().spec!.ports!;
      const target = svcPort!.targetPort;
      const containerPort = c.ports!.find((p) => (typeof target === 'string' ? p.name === target : p.containerPort === target));
      expect(containerPort?.containerPort, `Service targetPort ${target}`).toBe(port);
      for (const [kind, probe] of [['startup', c.startupProbe], ['readiness', c.readinessProbe], ['liveness', c.livenessProbe]] as const) {
        expect(probe?.grpc?.port, `${kind} probe`).toBe(port);
        // The coordinator registers the whole server ('') and its own service name.
        expect(['', HEALTH_SERVICE], `${kind} probe service`).toContain(probe!.grpc!.service ?? '');
      }
    });

    it('points every worker at the coordinator Service by name and port, on the cpu device', () => {
      const w = onlyContainer(worker());
      expect(argValue(w, '--coordinator')).toBe(`${service().metadata!.name}:${service().spec!.ports![0]!.port}`);
      expect(argValue(w, '--device')).toBe('cpu');
      expect(w.command).toEqual(['node', '/app/bin/worker.mjs']);
      expect(w.args![0]).toBe('start');
    });

    it('mounts the job ConfigMap where --config reads it, and the job in it validates', () => {
      const c = onlyContainer(coordinator());
      const config = argValue(c, '--config')!;
      const { volume } = volumeHolding(coordinator(), c, config);
      const configMap = find<IConfigMap>(objects(), 'ConfigMap', volume.configMap?.name ?? '(not a ConfigMap volume)');
      const text = configMap.data?.[posix.basename(config)];
      expect(text, `ConfigMap ${configMap.metadata!.name} key ${posix.basename(config)}`).toBeTypeOf('string');
      const dir = mkdtempSync(join(tmpdir(), 'gradfleet-k8s-job-'));
      try {
        writeFileSync(join(dir, basename(config)), text!);
        const { config: job } = readJobFile(join(dir, basename(config)));
        expect(job.data.source).toBe('digits');
        // Pods come and go: the lease must outlast a few missed heartbeats.
        expect(job.workers.lease).toBeGreaterThanOrEqual(3 * job.workers.heartbeat);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('keeps the run directory on the PersistentVolumeClaim', () => {
      const c = onlyContainer(coordinator());
      const runDir = argValue(c, '--run-dir')!;
      expect(posix.isAbsolute(runDir)).toBe(true);
      const { volume } = volumeHolding(coordinator(), c, runDir);
      const pvc = find<IPersistentVolumeClaim>(objects(), 'PersistentVolumeClaim', volume.persistentVolumeClaim?.claimName ?? '(not a PVC volume)');
      expect(pvc.spec!.accessModes).toContain('ReadWriteOnce');
      // The volume is writable by the image's user (uid 1000) through fsGroup.
      expect(coordinator().spec!.template.spec!.securityContext?.fsGroup).toBe(1000);
    });

    it('requests CPU and memory for every container, and runs them unprivileged on a read-only root with a writable /tmp', () => {
      for (const d of [coordinator(), worker()]) {
        const c = onlyContainer(d);
        expect(c.resources?.requests?.cpu, `${d.metadata!.name} cpu request`).toBeDefined();
        expect(c.resources?.requests?.memory, `${d.metadata!.name} memory request`).toBeDefined();
        expect(c.resources?.limits?.['nvidia.com/gpu'], `${d.metadata!.name} GPU`).toBeUndefined();
        expect(d.spec!.template.spec!.securityContext?.runAsNonRoot).toBe(true);
        expect(c.securityContext?.readOnlyRootFilesystem).toBe(true);
        expect(volumeHolding(d, c, '/tmp').volume.emptyDir, `${d.metadata!.name} /tmp`).toBeDefined();
      }
    });
  });

  describe('gpu overlay', () => {
    const objects = () => render('overlays/gpu');

    it('gives each worker one NVIDIA GPU, the cuda device, the CUDA image and GPU nodes', () => {
      const worker = find<IDeployment>(objects(), 'Deployment', 'gradfleet-worker');
      const w = onlyContainer(worker);
      expect(String(w.resources?.limits?.['nvidia.com/gpu'])).toBe('1');
      expect(argValue(w, '--device')).toBe('cuda');
      expect(argValue(w, '--coordinator')).toBe('gradfleet-coordinator:7070');
      expect(w.image).toBe('gradfleet:cuda');
      const pod = worker.spec!.template.spec!;
      expect(Object.keys(pod.nodeSelector ?? {})).not.toHaveLength(0);
      expect(pod.tolerations?.some((t) => t.key === 'nvidia.com/gpu' && t.effect === 'NoSchedule')).toBe(true);
    });

    it('leaves the coordinator on the CPU image without a GPU', () => {
      const c = onlyContainer(find<IDeployment>(objects(), 'Deployment', 'gradfleet-coordinator'));
      expect(c.image).toBe('gradfleet:local');
      expect(c.resources?.limits?.['nvidia.com/gpu']).toBeUndefined();
    });
  });
});
