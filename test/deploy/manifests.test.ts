/**
 * The Kubernetes manifests (deploy/k8s): each overlay renders with `kubectl kustomize`, every
 * object passes its Kubernetes schema offline, and the pieces fit together: the coordinator and
 * the workers are Jobs that end with the training job (one coordinator pod at a time, exit 2
 * fails the Job, disruptions are not counted; a work-queue pool of workers), the worker's
 * --coordinator address is the Service, the Service reaches the coordinator's gRPC port and no
 * worker, the probes ask the health service the coordinator serves, the job in the ConfigMap is
 * a valid job where --config reads it, and the run directory lives on the PersistentVolumeClaim.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, posix } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { IJob, IPodFailurePolicyRule } from 'kubernetes-models/batch/v1';
import type { IConfigMap, IContainer, IPersistentVolumeClaim, IService } from 'kubernetes-models/v1';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { COORDINATOR_EXIT } from '../../coordinator/cli.js';
import { HEALTH_SERVICE } from '../../coordinator/coordinator.js';
import { NODE_FLAGS } from '../../shared/node-flags.js';
import { readJobFile } from '../../coordinator/job/load.js';
import { TLS_ENV } from '../../shared/security/tls.js';
import { TOKEN_FILE_ENV } from '../../shared/security/join-token.js';
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

function onlyContainer(d: IJob): IContainer {
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
function volumeHolding(d: IJob, c: IContainer, path: string) {
  const mount = (c.volumeMounts ?? []).filter((m) => path === m.mountPath || path.startsWith(m.mountPath.replace(/\/?$/, '/'))).sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
  if (!mount) throw new Error(`${d.metadata!.name}: no volume is mounted over ${path}`);
  const volume = (d.spec!.template.spec!.volumes ?? []).find((v) => v.name === mount.name);
  if (!volume) throw new Error(`${d.metadata!.name}: volumeMount ${mount.name} names no volume`);
  return { mount, volume };
}

const matches = (selector: Record<string, string>, labels: Record<string, string> = {}) => Object.entries(selector).every(([k, v]) => labels[k] === v);

/** How a pod ended, as far as a podFailurePolicy looks at it. */
interface PodEnd {
  /** Exit code per container name. */
  exits: Record<string, number>;
  /** Pod conditions with status True (DisruptionTarget: drained, preempted, evicted). */
  conditions?: string[];
}

/**
 * What the Job controller does with a failed pod under `rules`: the action of the first rule that
 * matches (Kubernetes evaluates them in order), else Count (against backoffLimit).
 */
function podFailureAction(rules: IPodFailurePolicyRule[], pod: PodEnd): string {
  for (const rule of rules) {
    const codes = rule.onExitCodes;
    const byExit =
      codes !== undefined &&
      Object.entries(pod.exits).some(([name, code]) => (codes.containerName === undefined || codes.containerName === name) && code !== 0 && (codes.operator === 'In' ? codes.values.includes(code) : !codes.values.includes(code)));
    const byCondition = (rule.onPodConditions ?? []).some((p) => (p.status ?? 'True') === 'True' && (pod.conditions ?? []).includes(p.type));
    if (byExit || byCondition) return rule.action;
  }
  return 'Count';
}

/** Labels the Job controller puts on every pod it creates; a Service must not depend on them. */
const JOB_CONTROLLER_LABEL = /^(batch\.kubernetes\.io\/|job-name$|controller-uid$)/;

describe.skipIf(skipReason !== undefined)('Kubernetes manifests (deploy/k8s)', () => {
  const rendered = new Map<string, K8sObject[]>();
  const render = (dir: string) => {
    if (!rendered.has(dir)) rendered.set(dir, renderKustomization(join(K8S, dir)));
    return rendered.get(dir)!;
  };

  it.each(['base', 'overlays/cpu', 'overlays/gpu', 'overlays/secure'])('%s renders and every object passes its Kubernetes schema', async (dir) => {
    const objects = render(dir);
    expect(objects.map((o) => `${o.apiVersion} ${o.kind}`).sort()).toEqual(['batch/v1 Job', 'batch/v1 Job', 'networking.k8s.io/v1 NetworkPolicy', 'v1 ConfigMap', 'v1 PersistentVolumeClaim', 'v1 Service']);
    // kubernetes-models 4.5.x (Kubernetes 1.32 schemas) knows podFailurePolicy and
    // podReplacementPolicy, so the Jobs are validated whole; the tests below read those fields.
    for (const o of objects) await validateK8sObject(o);
  });

  it('the schema check rejects a malformed object', async () => {
    const coordinator = () => structuredClone(find<K8sObject>(render('overlays/cpu'), 'Job', 'gradfleet-coordinator')) as K8sObject & { spec: IJob['spec'] & Record<string, unknown> };
    const stringLimit = coordinator();
    stringLimit.spec.backoffLimit = '6' as unknown as number;
    await expect(validateK8sObject(stringLimit)).rejects.toThrow(/backoffLimit must be integer/);
    const unknownAction = coordinator();
    (unknownAction.spec.podFailurePolicy!.rules[0] as { action: string }).action = 'Retry';
    await expect(validateK8sObject(unknownAction)).rejects.toThrow(/podFailurePolicy\/rules\/0\/action must be equal to one of the allowed values/);
    await expect(validateK8sObject({ apiVersion: 'batch/v1', kind: 'Jobb', metadata: { name: 'x' } })).rejects.toThrow(/no schema for kind 'Jobb'/);
  });

  describe('cpu overlay', () => {
    const objects = () => render('overlays/cpu');
    const coordinator = () => find<IJob>(objects(), 'Job', 'gradfleet-coordinator');
    const worker = () => find<IJob>(objects(), 'Job', 'gradfleet-worker');
    const service = () => find<IService>(objects(), 'Service', 'gradfleet-coordinator');
    const coordinatorName = () => onlyContainer(coordinator()).name;

    it('runs the coordinator as a Job of one pod at a time, a replacement only once the old pod has ended', () => {
      const spec = coordinator().spec!;
      expect(spec.parallelism).toBe(1);
      expect(spec.completions).toBe(1);
      // Never two coordinators on the ReadWriteOnce run volume, not even while one terminates.
      expect(spec.podReplacementPolicy).toBe('Failed');
      // A failed pod is replaced (and resumes), never restarted in place: what podFailurePolicy needs.
      expect(spec.template.spec!.restartPolicy).toBe('Never');
      expect(spec.backoffLimit).toBeGreaterThanOrEqual(3);
      expect(spec.backoffLimit).toBeLessThanOrEqual(10);
      // Kept after it ends: its status and its logs are how the user learns how the job went.
      expect(spec.ttlSecondsAfterFinished).toBeUndefined();
    });

    it("fails the coordinator Job at once on exit 2 or 3, counts other failures, and ignores disruptions", () => {
      const rules = coordinator().spec!.podFailurePolicy?.rules ?? [];
      const action = (exit: number, conditions?: string[]) => podFailureAction(rules, { exits: { [coordinatorName()]: exit }, conditions });
      // 2: the job cannot run (invalid job file, refused run directory, op without gradient).
      expect(action(COORDINATOR_EXIT.cannotRun)).toBe('FailJob');
      // 3: the job ended with a diverged run; a rerun repeats it.
      expect(action(COORDINATOR_EXIT.runFailed)).toBe('FailJob');
      // 1: stopped before the end (SIGTERM, a crash while training): the next pod resumes.
      expect(action(COORDINATOR_EXIT.stopped)).toBe('Count');
      expect(action(COORDINATOR_EXIT.secondSignal)).toBe('Count');
      expect(action(137)).toBe('Count'); // SIGKILL: out of memory, or the grace period ran out
      // A drain or a preemption is never the pod's fault, whatever it exited with.
      expect(action(COORDINATOR_EXIT.stopped, ['DisruptionTarget'])).toBe('Ignore');
      expect(action(137, ['DisruptionTarget'])).toBe('Ignore');
      // The FailJob rule names the coordinator container and exactly the final codes.
      const failJob = rules.filter((r) => r.action === 'FailJob');
      expect(failJob.map((r) => r.onExitCodes)).toEqual([{ containerName: coordinatorName(), operator: 'In', values: [COORDINATOR_EXIT.cannotRun, COORDINATOR_EXIT.runFailed] }]);
    });

    it('runs the workers as a work-queue Job: parallel pods, no completion count, disruptions not counted', () => {
      const spec = worker().spec!;
      expect(spec.parallelism).toBeGreaterThanOrEqual(2);
      // Unset: the Job completes once a worker exited 0 (the coordinator said the job is over)
      // and every worker pod has ended; completions would make it wait for that many successes.
      expect(spec.completions).toBeUndefined();
      expect(spec.completionMode ?? 'NonIndexed').toBe('NonIndexed');
      expect(spec.template.spec!.restartPolicy).toBe('Never');
      expect(spec.podReplacementPolicy).toBe('Failed');
      expect(spec.backoffLimit).toBeGreaterThanOrEqual(3);
      expect(spec.ttlSecondsAfterFinished).toBeUndefined();
      const rules = spec.podFailurePolicy?.rules ?? [];
      const w = onlyContainer(worker()).name;
      expect(podFailureAction(rules, { exits: { [w]: 1 } })).toBe('Count');
      expect(podFailureAction(rules, { exits: { [w]: 1 }, conditions: ['DisruptionTarget'] })).toBe('Ignore');
      // Drained by SIGTERM before the job ended (worker/cli.ts exits 128 + 15): replaced, uncounted.
      expect(podFailureAction(rules, { exits: { [w]: 143 } })).toBe('Ignore');
      expect(podFailureAction(rules, { exits: { [w]: 137 } })).toBe('Count');
      // A worker gives up on an unreachable coordinator only after a coordinator pod could have
      // been replaced (minutes), so that a moved coordinator does not use up the backoffLimit.
      expect(Number(argValue(onlyContainer(worker()), '--unreachable-timeout'))).toBeGreaterThanOrEqual(5 * 60_000);
    });

    it('selects the coordinator pod for the Service by our labels only, never a worker', () => {
      const selector = service().spec!.selector!;
      expect(Object.keys(selector)).not.toHaveLength(0);
      expect(matches(selector, coordinator().spec!.template.metadata!.labels)).toBe(true);
      expect(matches(selector, worker().spec!.template.metadata!.labels)).toBe(false);
      // The Job controller labels its pods itself (job-name, controller-uid, batch.kubernetes.io/…)
      // and generates the Job's selector; a Service keyed on those would break with every new Job.
      for (const key of Object.keys(selector)) expect(key).not.toMatch(JOB_CONTROLLER_LABEL);
      for (const j of [coordinator(), worker()]) {
        expect(j.spec!.selector, `${j.metadata!.name} selector`).toBeUndefined();
        expect(j.spec!.manualSelector, `${j.metadata!.name} manualSelector`).toBeUndefined();
      }
    });

    it("lets only worker pods reach the coordinator's gRPC port; the metrics port stays open for Prometheus", () => {
      const policy = find<INetworkPolicy>(objects(), 'NetworkPolicy', 'gradfleet-coordinator');
      const c = onlyContainer(coordinator());
      expect(policy.spec!.policyTypes).toEqual(['Ingress']);
      expect(matches(policy.spec!.podSelector.matchLabels!, coordinator().spec!.template.metadata!.labels)).toBe(true);
      expect(matches(policy.spec!.podSelector.matchLabels!, worker().spec!.template.metadata!.labels)).toBe(false);
      const portNumber = (p: string | number | undefined) => (typeof p === 'string' ? c.ports!.find((x) => x.name === p)?.containerPort : p);
      const rulesFor = (port: number) => policy.spec!.ingress!.filter((r) => (r.ports ?? []).some((p) => portNumber(p.port) === port));
      const grpc = rulesFor(Number(argValue(c, '--port')));
      expect(grpc).toHaveLength(1);
      const from = grpc[0]!.from!;
      expect(from).toHaveLength(1);
      expect(from[0]!.namespaceSelector).toBeUndefined();
      expect(matches(from[0]!.podSelector!.matchLabels!, worker().spec!.template.metadata!.labels)).toBe(true);
      expect(matches(from[0]!.podSelector!.matchLabels!, coordinator().spec!.template.metadata!.labels)).toBe(false);
      expect(rulesFor(Number(argValue(c, '--metrics-port')))).toHaveLength(1);
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

    it('serves Prometheus metrics from the coordinator and every worker on the port their scrape annotations name', () => {
      for (const d of [coordinator(), worker()]) {
        const c = onlyContainer(d);
        const annotations = d.spec!.template.metadata!.annotations ?? {};
        expect(annotations['prometheus.io/scrape'], d.metadata!.name).toBe('true');
        expect(annotations['prometheus.io/path']).toBe('/metrics');
        const port = Number(argValue(c, '--metrics-port'));
        expect(Number(annotations['prometheus.io/port'])).toBe(port);
        expect(argValue(c, '--metrics-host')).toBe('0.0.0.0');
        expect(c.ports!.find((p) => p.name === 'metrics')?.containerPort).toBe(port);
      }
      expect(Number(argValue(onlyContainer(coordinator()), '--metrics-port'))).not.toBe(Number(argValue(onlyContainer(coordinator()), '--port')));
    });

    it('points every worker at the coordinator Service by name and port, on the cpu device', () => {
      const w = onlyContainer(worker());
      expect(argValue(w, '--coordinator')).toBe(`${service().metadata!.name}:${service().spec!.ports![0]!.port}`);
      expect(argValue(w, '--device')).toBe('cpu');
      expect(w.command).toEqual(['node', ...NODE_FLAGS, '/app/bin/worker.mjs']);
      expect(onlyContainer(coordinator()).command).toEqual(['node', ...NODE_FLAGS, '/app/bin/coordinator.mjs']);
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
      const worker = find<IJob>(objects(), 'Job', 'gradfleet-worker');
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
      const c = onlyContainer(find<IJob>(objects(), 'Job', 'gradfleet-coordinator'));
      expect(c.image).toBe('gradfleet:local');
      expect(c.resources?.limits?.['nvidia.com/gpu']).toBeUndefined();
    });
  });

  describe('secure overlay', () => {
    const objects = () => render('overlays/secure');
    const coordinator = () => find<IJob>(objects(), 'Job', 'gradfleet-coordinator');
    const worker = () => find<IJob>(objects(), 'Job', 'gradfleet-worker');
    const env = (c: IContainer, name: string) => c.env?.find((e) => e.name === name)?.value;
    /** The Secret and key a file in the container comes from (the Secret volume mounted over it, and the item projected there). */
    const secretFile = (d: IJob, c: IContainer, path: string) => {
      const { mount, volume } = volumeHolding(d, c, path);
      expect(volume.secret, `${d.metadata!.name}: ${path} is not on a Secret volume`).toBeDefined();
      expect(mount.readOnly, `${d.metadata!.name}: ${mount.name} read-only`).toBe(true);
      const rel = posix.relative(mount.mountPath, path);
      const item = volume.secret!.items?.find((i) => i.path === rel);
      expect(item, `${d.metadata!.name}: Secret ${volume.secret!.secretName} projects nothing at ${rel}`).toBeDefined();
      // Group-readable only (fsGroup 1000), never world-readable.
      expect((volume.secret!.defaultMode ?? 0o644) & 0o007, `${volume.name} mode`).toBe(0);
      return { secret: volume.secret!.secretName!, key: item!.key };
    };

    it('serves mutual TLS with the join token: the coordinator reads its certificate, key, CA and token from Secrets', () => {
      const d = coordinator();
      const c = onlyContainer(d);
      expect(secretFile(d, c, env(c, TLS_ENV.cert)!)).toEqual({ secret: 'gradfleet-tls', key: 'server.crt' });
      expect(secretFile(d, c, env(c, TLS_ENV.key)!)).toEqual({ secret: 'gradfleet-tls', key: 'server.key' });
      expect(secretFile(d, c, env(c, TLS_ENV.ca)!)).toEqual({ secret: 'gradfleet-tls', key: 'ca.crt' });
      expect(secretFile(d, c, env(c, TOKEN_FILE_ENV)!)).toEqual({ secret: 'gradfleet-join-token', key: 'join-token' });
      expect(d.spec!.template.spec!.securityContext?.fsGroup).toBe(1000);
    });

    it('gives every worker the CA, its client certificate and the token, never the server key', () => {
      const d = worker();
      const w = onlyContainer(d);
      expect(secretFile(d, w, env(w, TLS_ENV.ca)!)).toEqual({ secret: 'gradfleet-tls', key: 'ca.crt' });
      expect(secretFile(d, w, env(w, TLS_ENV.cert)!)).toEqual({ secret: 'gradfleet-tls', key: 'worker.crt' });
      expect(secretFile(d, w, env(w, TLS_ENV.key)!)).toEqual({ secret: 'gradfleet-tls', key: 'worker.key' });
      expect(secretFile(d, w, env(w, TOKEN_FILE_ENV)!)).toEqual({ secret: 'gradfleet-join-token', key: 'join-token' });
      const keys = (d.spec!.template.spec!.volumes ?? []).flatMap((v) => v.secret?.items?.map((i) => i.key) ?? []);
      expect(keys).not.toContain('server.key');
      expect(keys).not.toContain('ca.key');
      expect(argValue(w, '--device')).toBe('cpu');
      expect(argValue(w, '--coordinator')).toBe('gradfleet-coordinator:7070');
      expect(d.spec!.template.spec!.securityContext?.fsGroup).toBe(1000);
    });

    it('probes the coordinator over mutual TLS with exec probes (the built-in grpc probe speaks plaintext only)', () => {
      const d = coordinator();
      const c = onlyContainer(d);
      const port = Number(argValue(c, '--port'));
      for (const [kind, probe] of [['startup', c.startupProbe], ['readiness', c.readinessProbe], ['liveness', c.livenessProbe]] as const) {
        expect(probe?.grpc, `${kind} probe`).toBeUndefined();
        const [node, script, address, service] = probe!.exec!.command!;
        expect([node, script, address], `${kind} probe`).toEqual(['node', '/app/deploy/docker/health-probe.mjs', `127.0.0.1:${port}`]);
        expect(['', HEALTH_SERVICE]).toContain(service ?? '');
        expect(probe!.timeoutSeconds, `${kind} probe timeout`).toBeGreaterThanOrEqual(2);
      }
      expect(c.readinessProbe!.exec!.command![3]).toBe(HEALTH_SERVICE);
      // The probe's CA and client certificate (health-probe.mjs reads GRADFLEET_PROBE_TLS_*).
      expect(secretFile(d, c, env(c, 'GRADFLEET_PROBE_TLS_CA')!)).toEqual({ secret: 'gradfleet-tls', key: 'ca.crt' });
      expect(secretFile(d, c, env(c, 'GRADFLEET_PROBE_TLS_CERT')!)).toEqual({ secret: 'gradfleet-tls', key: 'worker.crt' });
      expect(secretFile(d, c, env(c, 'GRADFLEET_PROBE_TLS_KEY')!)).toEqual({ secret: 'gradfleet-tls', key: 'worker.key' });
    });
  });
});
