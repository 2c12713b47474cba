/**
 * The Python side of the PyTorch reference sections: which interpreter, whether `import torch`
 * works there, and running one of the bench/*.py scripts with a JSON config. The bench never
 * depends on torch: a missing interpreter or torch becomes a reason to skip, not an error.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** What a section needs to run a torch script, or why it cannot. */
export type TorchProbe = { ok: true; python: string; version: string } | { ok: false; python: string; reason: string };

/**
 * The interpreter for the torch scripts: GRADFLEET_BENCH_PYTHON (a venv with a newer torch, say),
 * else the system python, where Debian's python3-torch installs.
 */
export function benchPython(): string {
  return process.env.GRADFLEET_BENCH_PYTHON ?? '/usr/bin/python3';
}

/** Absolute path of a script in bench/ (e.g. 'torch_ddp.py'). */
export function benchScript(name: string): string {
  return fileURLToPath(new URL(name, import.meta.url));
}

// `import torch` takes a second or two: one probe per bench run, shared by every section.
let probed: Promise<TorchProbe> | undefined;

/** Whether `import torch` works in benchPython(), and torch's version; asked once per process. */
export function probeTorch(): Promise<TorchProbe> {
  probed ??= (async () => {
    const python = benchPython();
    try {
      const out = await runPython(python, ['-c', 'import torch; print(torch.__version__)'], 120);
      return { ok: true, python, version: out.trim() };
    } catch (err) {
      return { ok: false, python, reason: (err as Error).message };
    }
  })();
  return probed;
}

/** The note a section shows when it skips for lack of torch. */
export function torchSkipNote(probe: Extract<TorchProbe, { ok: false }>): string {
  return `skipped: \`${probe.python} -c 'import torch'\` failed (${probe.reason}); scripts/install-torch.sh installs Debian's python3-torch`;
}

/** A bench script exited with an error, was killed, or printed something that is not JSON lines. */
export class PythonScriptError extends Error {
  override name = 'PythonScriptError';
}

/**
 * Runs bench/<script> with `config` as its one JSON argument and returns its stdout, one parsed
 * JSON value per non-empty line. Fails with the last line of stderr (the Python exception) when
 * the script fails; kills it after `timeoutSeconds`.
 */
export async function runTorchScript<T>(python: string, script: string, config: unknown, timeoutSeconds: number): Promise<T[]> {
  const stdout = await runPython(python, [benchScript(script), JSON.stringify(config)], timeoutSeconds);
  return stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      try {
        return JSON.parse(line) as T;
      } catch {
        throw new PythonScriptError(`${script} printed a line that is not JSON: ${line.slice(0, 200)}`);
      }
    });
}

function runPython(python: string, args: string[], timeoutSeconds: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const what = args[0] === '-c' ? `${python} -c` : `${python} ${args[0]}`;
    // No bytecode caches: the scripts import bench/torch_loopback.py, and a bench/__pycache__/
    // would litter the working tree.
    const env = { ...process.env, PYTHONDONTWRITEBYTECODE: '1' };
    const child = spawn(python, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    // SIGKILL on timeout: the DDP scripts' ranks ask the kernel to end them with their parent
    // (PR_SET_PDEATHSIG), so killing the one process we started ends them all. The timer is ours,
    // not spawn's `timeout` option: Node clears that one only on 'exit', which a process that
    // never started (no such interpreter: ENOENT) does not emit, so its timer would hold the
    // bench open for the whole timeout after the skip note is printed.
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutSeconds * 1000);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new PythonScriptError(`${what}: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL') reject(new PythonScriptError(`${what} was killed (it did not finish within ${timeoutSeconds} s, or ran out of memory)`));
      else if (code !== 0) {
        const last = stderr.trim().split('\n').pop() ?? '';
        reject(new PythonScriptError(`${what} exited with ${code ?? signal}${last ? `: ${last}` : ''}`));
      } else resolve(stdout);
    });
  });
}
