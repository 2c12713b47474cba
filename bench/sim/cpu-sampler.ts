/**
 * CPU time of other processes over a time window, from Linux's /proc/<pid>/stat (user + system
 * time, every thread included). process.cpuUsage() covers only the calling process, and a
 * window known only afterwards (the timed steps, from metrics.jsonl) needs readings taken along
 * the way: the sampler reads every process every `intervalMs`, and cores() takes the readings
 * inside the window. Cheap: one small file read per process per interval.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

interface Reading {
  /** Date.now() when read. */
  at: number;
  /** utime + stime in seconds. */
  cpu: number;
}

/** Clock ticks per second of /proc's times (getconf CLK_TCK; 100 on every common Linux). */
function clockTicks(): number {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
}

/** utime + stime of a process in seconds, or undefined once it is gone (or on a system without /proc). */
function cpuSeconds(pid: number, ticks: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces: fields are counted after it.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
  return (Number(rest[11]) + Number(rest[12])) / ticks;
}

export class CpuSampler {
  private readonly readings = new Map<number, Reading[]>();
  private readonly ticks = clockTicks();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly intervalMs = 250) {}

  /** Whether CPU times can be read here (Linux). */
  static get available(): boolean {
    return cpuSeconds(process.pid, 100) !== undefined;
  }

  /** Starts reading `pids` (and takes a first reading of each at once). */
  start(pids: readonly number[]): void {
    for (const pid of pids) this.readings.set(pid, []);
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * Cores `pid` kept busy on average from `from` to `to` (Date.now() times): CPU seconds over
   * wall seconds, 1 = one core all the time, between the first reading in the window and the
   * last (a process may end right after the window, before a reading falls on its end).
   * undefined when fewer than two readings, a second apart, fall in the window.
   */
  cores(pid: number, from: number, to: number): number | undefined {
    const inside = (this.readings.get(pid) ?? []).filter((r) => r.at >= from && r.at <= to);
    const a = inside[0];
    const b = inside.at(-1);
    return a === undefined || b === undefined || b.at - a.at < 1000 ? undefined : (b.cpu - a.cpu) / ((b.at - a.at) / 1000);
  }

  private sample(): void {
    const now = Date.now();
    for (const [pid, rs] of this.readings) {
      const cpu = cpuSeconds(pid, this.ticks);
      if (cpu !== undefined) rs.push({ at: now, cpu });
    }
  }
}
