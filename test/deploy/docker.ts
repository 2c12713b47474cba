/** Whether a Docker daemon answers here, and a GenericContainer that runs the way the Kubernetes manifests run pods. */
import { execFileSync } from 'node:child_process';
import { GenericContainer } from 'testcontainers';

/** Why no container can run here, or undefined when a daemon answers `docker info`. */
export function dockerUnavailable(): string | undefined {
  try {
    execFileSync('docker', ['info', '--format', '{{.ServerVersion}}'], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 20_000 });
    return undefined;
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: Buffer };
    if (err.code === 'ENOENT') return 'the docker CLI is not installed';
    return `no Docker daemon answers (${(err.stderr?.toString() || err.message).trim().split('\n')[0]})`;
  }
}

/**
 * A gradfleet container as the manifests run it: uid 1000, a read-only root filesystem, a tmpfs
 * /tmp (tsx's compile cache), every capability dropped.
 */
export class GradfleetContainer extends GenericContainer {
  constructor(image: string) {
    super(image);
    this.hostConfig.ReadonlyRootfs = true;
    this.withUser('1000:1000').withTmpFs({ '/tmp': 'rw,size=256m' }).withDroppedCapabilities('ALL');
  }
}
